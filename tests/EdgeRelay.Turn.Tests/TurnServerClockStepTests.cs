using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Auth;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>
/// A Raspberry Pi has no battery-backed clock: it boots with a stale time and NTP later steps it by hours
/// or years, forwards or backwards. Allocations, permissions, channels and nonces run on the monotonic
/// clock, so no step cuts one short or keeps one alive; only TURN REST expiry is wall time, judged by the
/// best time the appliance injects (<see cref="TurnServer.WallClock"/>).
/// </summary>
public sealed class TurnServerClockStepTests
{
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);

    [Theory]
    [InlineData(400)]
    [InlineData(-400)]
    public void A_wall_clock_step_neither_cuts_an_allocation_short_nor_keeps_it_alive(int stepDays)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();

        host.Time.AdvanceSeconds(100);
        host.Time.StepWallClock(TimeSpan.FromDays(stepDays));
        host.Server.Tick();
        host.Time.AdvanceMilliseconds(499_999);
        host.Server.Tick();
        Assert.False(allocation.IsDeleted);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        Assert.True(allocation.IsDeleted);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(-400)]
    public void A_wall_clock_step_leaves_permissions_and_channels_their_lifetimes(int stepDays)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail(r => r.Lifetime(3600));
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        TransportAddress other = TurnTestHost.Address("8.8.4.4", 5000);
        Assert.True(client.CreatePermission(other).IsSuccess);

        host.Time.StepWallClock(TimeSpan.FromDays(stepDays));
        host.Time.AdvanceMilliseconds(299_999);
        host.Server.Tick();
        Assert.Equal(TurnActionKind.SendToClient, host.DeliverFromPeer(allocation, other, [1]).Action.Kind);

        host.Time.AdvanceMilliseconds(1);
        host.Server.Tick();
        // RFC 8656 §9: a permission lives 300 s; the channel (600 s, §12) refreshed its own permission only.
        Assert.Equal(TurnActionKind.None, host.DeliverFromPeer(allocation, other, [1]).Action.Kind);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(-400)]
    public void A_nonce_stays_valid_for_its_lifetime_across_a_wall_clock_step_and_no_longer(int stepDays)
    {
        // RFC 8489 §9.2: the server decides how long a nonce is valid; ours carries a monotonic expiry.
        var host = new TurnTestHost(TurnTestHost.CreateOptions(nonceLifetime: TimeSpan.FromMinutes(10)));
        TurnTestClient client = host.Client();
        client.LearnChallenge(client.SendOnce(TurnTestClient.AllocateRequest()));

        host.Time.AdvanceSeconds(10);
        host.Time.StepWallClock(TimeSpan.FromDays(stepDays));
        host.Time.AdvanceMilliseconds(589_999);
        Assert.True(client.SendOnce(TurnTestClient.AllocateRequest()).IsSuccess);

        host.Time.AdvanceMilliseconds(1);
        Assert.Equal(StunErrorCode.StaleNonce, client.SendOnce(new StunRequest(StunMethod.Refresh)).ErrorCode);
    }

    [Fact]
    public void A_static_user_authenticates_whatever_the_wall_clock_says()
    {
        var host = new TurnTestHost();
        host.Time.StepWallClock(TimeSpan.FromDays(-20_000)); // 1970
        host.Server.WallClock = new FixedWallClock(host.Time.GetUtcNow(), trusted: false);

        Assert.True(host.Client().Allocate().IsSuccess);
    }

    private static TurnTestHost RestHost(RecordingLogger? log = null) =>
        new(TurnTestHost.CreateOptions(sharedSecrets: ["rest-api-secret"]), log: log);

    [Fact]
    public void A_REST_credential_is_judged_by_the_injected_wall_clock_not_the_local_one()
    {
        // The box booted into the past (no RTC); the appliance knows better from the cloud's Date header.
        TurnTestHost host = RestHost();
        DateTimeOffset realNow = host.Time.GetUtcNow();
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", realNow.ToUnixTimeSeconds() + 3600);
        host.Time.StepWallClock(TimeSpan.FromDays(-3));
        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode); // "too far ahead" by local time

        host.Server.WallClock = new FixedWallClock(realNow, trusted: false, "cloud Date header");

        Assert.True(host.Client(username, password, clientPort: 40001).Allocate().IsSuccess);
    }

    [Fact]
    public void A_REST_allocation_made_before_a_forward_step_ends_at_its_next_refresh_after_the_credential_expired()
    {
        // The REST expiry is wall time (draft-uberti-behave-turn-rest-00 §2.2): a step past it ends the
        // allocation at its next Refresh, as a real expiry would; the allocation itself is not cut short.
        TurnTestHost host = RestHost();
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + 3600);
        TurnTestClient client = host.Client(username, password);
        Allocation allocation = client.AllocateOrFail();

        host.Time.StepWallClock(TimeSpan.FromHours(2));
        host.Server.Tick();
        Assert.False(allocation.IsDeleted);
        Assert.Equal(StunErrorCode.Unauthenticated, client.Refresh().ErrorCode);

        host.Time.StepWallClock(TimeSpan.FromHours(-2));
        Assert.True(client.Refresh().IsSuccess);
    }

    [Fact]
    public void A_REST_refusal_while_the_clock_is_not_trusted_is_logged_with_the_expiry_and_the_time_used_once_a_minute()
    {
        var log = new RecordingLogger();
        TurnTestHost host = RestHost(log);
        host.Server.WallClock = new FixedWallClock(host.Time.GetUtcNow(), trusted: false, "kernel (not synchronised)");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds - 10, "carol-secret-name");

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode);
        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password, clientPort: 40001).Allocate().ErrorCode);

        string line = Assert.Single(log.Lines, l => l.Contains("clock is not trusted", StringComparison.Ordinal));
        Assert.Contains("RestCredentialExpired", line, StringComparison.Ordinal);
        Assert.Contains("kernel (not synchronised)", line, StringComparison.Ordinal);
        Assert.DoesNotContain("carol-secret-name", line, StringComparison.Ordinal);
        Assert.DoesNotContain(password, line, StringComparison.Ordinal);

        host.Time.AdvanceSeconds(60);
        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password, clientPort: 40002).Allocate().ErrorCode);
        Assert.Equal(2, log.Lines.Count(l => l.Contains("clock is not trusted", StringComparison.Ordinal)));
    }

    [Fact]
    public void An_expired_REST_name_with_a_wrong_password_is_not_logged_as_the_clocks_fault()
    {
        // Without the secret nobody can make the relay log expiries: integrity is checked before the expiry.
        var log = new RecordingLogger();
        TurnTestHost host = RestHost(log);
        host.Server.WallClock = new FixedWallClock(host.Time.GetUtcNow(), trusted: false, "kernel (not synchronised)");
        (string username, _) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds - 10);

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, "not the password").Allocate().ErrorCode);

        Assert.DoesNotContain(log.Lines, l => l.Contains("clock", StringComparison.Ordinal));
    }

    [Fact]
    public void A_REST_refusal_with_a_trusted_clock_is_not_blamed_on_the_clock()
    {
        var log = new RecordingLogger();
        TurnTestHost host = RestHost(log);
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds - 10);

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode);

        Assert.DoesNotContain(log.Lines, l => l.Contains("clock", StringComparison.Ordinal));
    }

    private sealed class FixedWallClock(DateTimeOffset now, bool trusted, string source = "test") : IWallClock
    {
        public WallTime Now => new(now, trusted, source);
    }
}

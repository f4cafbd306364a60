using System.Text;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>The long-term credential mechanism, RFC 8489 §9.2.4, and TURN REST credentials.</summary>
public sealed class TurnServerAuthenticationTests
{
    private static readonly byte[] OfferedPasswordAlgorithms = [0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];

    private static StunResponse Challenge(TurnTestClient client)
    {
        StunResponse challenge = client.SendOnce(TurnTestClient.AllocateRequest());
        Assert.Equal(StunErrorCode.Unauthenticated, challenge.ErrorCode);
        client.LearnChallenge(challenge);
        return challenge;
    }

    [Fact]
    public void Allocate_without_credentials_is_challenged_with_401_realm_and_nonce()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();

        StunResponse response = client.SendOnce(TurnTestClient.AllocateRequest());

        Assert.Equal(StunMethod.Allocate, response.Method);
        Assert.Equal(StunClass.ErrorResponse, response.Class);
        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.Equal(TurnTestHost.Realm, response.GetString(StunAttributeType.Realm));
        Assert.StartsWith("obMatJos2", response.GetString(StunAttributeType.Nonce));
        Assert.Equal(OfferedPasswordAlgorithms, response.Get(StunAttributeType.PasswordAlgorithms));
        Assert.False(response.Has(StunAttributeType.Username));
        Assert.False(response.Has(StunAttributeType.MessageIntegrity));
        Assert.False(response.Has(StunAttributeType.MessageIntegritySha256));
        Assert.Equal(0, host.Server.AllocationCount);
        Assert.Empty(host.Binder.Endpoints);
    }

    [Fact]
    public void Nonce_announces_password_algorithms_and_username_anonymity_in_its_security_feature_set()
    {
        var host = new TurnTestHost();
        string nonce = Challenge(host.Client()).GetString(StunAttributeType.Nonce)!;

        // RFC 8489 §9.2: cookie "obMatJos2", then 4 base64 characters of the 24-bit feature set.
        Assert.Equal("AAAD", nonce.Substring(9, 4));
    }

    [Theory]
    [InlineData("username")]
    [InlineData("realm")]
    [InlineData("nonce")]
    public void Request_with_integrity_but_without_username_realm_or_nonce_is_rejected_with_400(string missing)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Challenge(client);
        StunAuth auth = client.CurrentAuth()!;
        switch (missing)
        {
            case "username": auth.Username = null; break;
            case "realm": auth.Realm = null; break;
            default: auth.Nonce = null; break;
        }

        StunResponse response = client.SendRaw(TurnTestClient.AllocateRequest().Encode(auth))!;

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
        // RFC 8489 §9.2.4: the 400 carries neither REALM nor NONCE.
        Assert.False(response.Has(StunAttributeType.Realm));
        Assert.False(response.Has(StunAttributeType.Nonce));
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Username_of_763_bytes_is_accepted()
    {
        // RFC 8489 §14.3: a server MUST parse USERNAME of up to 763 bytes, for RFC 5389 clients.
        string name = new('u', 763);
        var host = new TurnTestHost(TurnTestHost.CreateOptions(users: new Dictionary<string, string> { [name] = "pw" }));

        Assert.True(host.Client(name, "pw").Allocate().IsSuccess);
    }

    [Fact]
    public void Username_of_more_than_763_bytes_is_rejected_with_400()
    {
        string name = new('u', 764);
        var host = new TurnTestHost(TurnTestHost.CreateOptions(users: new Dictionary<string, string> { [name] = "pw" }));

        Assert.Equal(StunErrorCode.BadRequest, host.Client(name, "pw").Allocate().ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Wrong_password_is_rejected_with_401_and_a_fresh_challenge()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client("alice", "not the password");

        StunResponse response = client.Allocate();

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.Equal(TurnTestHost.Realm, response.GetString(StunAttributeType.Realm));
        Assert.True(response.Has(StunAttributeType.Nonce));
        Assert.False(response.Has(StunAttributeType.MessageIntegrity));
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Unknown_user_is_rejected_with_401()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client("mallory", "whatever");

        StunResponse response = client.Allocate();

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.True(response.Has(StunAttributeType.Nonce));
        Assert.Equal(OfferedPasswordAlgorithms, response.Get(StunAttributeType.PasswordAlgorithms));
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Wrong_realm_is_rejected_with_401()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Challenge(client);
        StunAuth auth = client.CurrentAuth()!;
        auth.Realm = StunAuth.Utf8("other.realm");
        auth.Key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alice", "other.realm", TurnTestHost.AlicePassword);

        StunResponse response = client.SendRaw(TurnTestClient.AllocateRequest().Encode(auth))!;

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.Equal(TurnTestHost.Realm, response.GetString(StunAttributeType.Realm));
    }

    [Fact]
    public void Md5_client_without_password_algorithm_gets_a_success_signed_with_message_integrity()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(mode: ClientAuthMode.Md5);

        StunResponse response = client.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.False(response.Has(StunAttributeType.MessageIntegritySha256));
        // The key really is the MD5 one: the SHA-256 key does not verify it.
        Assert.False(response.VerifyMessageIntegrity(client.Sha256Key));
        Assert.Equal("alice", client.Allocation!.Username);
    }

    [Fact]
    public void Sha256_client_gets_a_success_signed_with_message_integrity_sha256()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(mode: ClientAuthMode.Sha256);

        StunResponse response = client.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegritySha256(client.Sha256Key));
        Assert.False(response.VerifyMessageIntegritySha256(client.Md5Key));
        Assert.False(response.Has(StunAttributeType.MessageIntegrity));
    }

    [Fact]
    public void Sha256_request_signed_with_the_md5_key_is_rejected_with_401()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(mode: ClientAuthMode.Sha256);
        Challenge(client);
        StunAuth auth = client.CurrentAuth()!;
        auth.Key = client.Md5Key;

        Assert.Equal(StunErrorCode.Unauthenticated, client.SendRaw(TurnTestClient.AllocateRequest().Encode(auth))!.ErrorCode);
    }

    public static TheoryData<string> MismatchedAlgorithms => ["md5-only offer", "reordered offer", "algorithm without offer", "offer without algorithm", "algorithm not offered"];

    [Theory]
    [MemberData(nameof(MismatchedAlgorithms))]
    public void Password_algorithms_that_differ_from_the_offer_are_rejected_with_400(string variant)
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(mode: ClientAuthMode.Sha256);
        Challenge(client);
        StunAuth auth = client.CurrentAuth()!;
        switch (variant)
        {
            case "md5-only offer":
                auth.PasswordAlgorithms = [0x00, 0x01, 0x00, 0x00];
                auth.PasswordAlgorithm = PasswordAlgorithm.Md5;
                auth.Key = client.Md5Key;
                break;
            case "reordered offer":
                auth.PasswordAlgorithms = [0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00];
                break;
            case "algorithm without offer":
                auth.PasswordAlgorithms = null;
                break;
            case "offer without algorithm":
                auth.PasswordAlgorithm = null;
                break;
            default:
                auth.PasswordAlgorithm = (PasswordAlgorithm)0x0003;
                break;
        }

        StunResponse response = client.SendRaw(TurnTestClient.AllocateRequest().Encode(auth))!;

        Assert.Equal(StunErrorCode.BadRequest, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Userhash_instead_of_username_authenticates_a_static_user()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client("bob", mode: ClientAuthMode.Md5Userhash);

        StunResponse response = client.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.Equal("bob", client.Allocation!.Username);
    }

    [Fact]
    public void Userhash_of_an_unknown_user_is_rejected_with_401()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client("nobody", "pw", mode: ClientAuthMode.Md5Userhash);

        Assert.Equal(StunErrorCode.Unauthenticated, client.Allocate().ErrorCode);
    }

    [Fact]
    public void Stale_nonce_is_answered_with_438_and_a_fresh_nonce_and_the_retry_succeeds()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Challenge(client);
        byte[] oldNonce = client.Nonce!;
        host.Time.Advance(host.Options.NonceLifetime);

        StunResponse stale = client.SendOnce(TurnTestClient.AllocateRequest());

        Assert.Equal(StunErrorCode.StaleNonce, stale.ErrorCode);
        Assert.Equal(TurnTestHost.Realm, stale.GetString(StunAttributeType.Realm));
        Assert.Equal(OfferedPasswordAlgorithms, stale.Get(StunAttributeType.PasswordAlgorithms));
        byte[] freshNonce = stale.Get(StunAttributeType.Nonce)!;
        Assert.StartsWith("obMatJos2", Encoding.UTF8.GetString(freshNonce));
        Assert.NotEqual(oldNonce, freshNonce);
        Assert.Equal(0, host.Server.AllocationCount);

        client.LearnChallenge(stale);
        StunResponse retry = client.SendOnce(TurnTestClient.AllocateRequest());

        Assert.True(retry.IsSuccess, retry.Describe());
        Assert.Equal(1, host.Server.AllocationCount);
    }

    [Fact]
    public void Stale_nonce_with_a_wrong_password_is_answered_with_401_not_438()
    {
        // RFC 8489 §9.2.4 checks integrity before the nonce's age: a wrong password never learns of staleness.
        var host = new TurnTestHost();
        TurnTestClient client = host.Client("alice", "wrong");
        Challenge(client);
        host.Time.Advance(host.Options.NonceLifetime);

        Assert.Equal(StunErrorCode.Unauthenticated, client.SendOnce(TurnTestClient.AllocateRequest()).ErrorCode);
    }

    [Fact]
    public void Nonce_issued_to_one_client_ip_is_refused_from_another()
    {
        var host = new TurnTestHost();
        TurnTestClient first = host.Client(clientIp: "203.0.113.50");
        Challenge(first);
        TurnTestClient second = host.Client(clientIp: "203.0.113.51");
        second.Realm = first.Realm;
        second.Nonce = first.Nonce;
        second.PasswordAlgorithms = first.PasswordAlgorithms;

        StunResponse response = second.SendOnce(TurnTestClient.AllocateRequest());

        Assert.Equal(StunErrorCode.StaleNonce, response.ErrorCode);
        Assert.NotEqual(first.Nonce, response.Get(StunAttributeType.Nonce));
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Nonce_stays_valid_for_the_same_client_ip_on_another_port()
    {
        // The nonce is bound to the IP address only, so that a client reconnecting over TCP keeps it.
        var host = new TurnTestHost();
        TurnTestClient first = host.Client(clientPort: 40000);
        Challenge(first);
        TurnTestClient second = host.Client(clientPort: 40001);
        second.Realm = first.Realm;
        second.Nonce = first.Nonce;

        Assert.True(second.SendOnce(TurnTestClient.AllocateRequest()).IsSuccess);
    }

    [Fact]
    public void Challenges_to_two_source_ports_of_one_ip_carry_different_nonces()
    {
        // RFC 8489 §9.2.4: "The server MUST NOT choose the same NONCE for two requests unless they have
        // the same source IP address and port."
        var host = new TurnTestHost();
        StunResponse first = Challenge(host.Client(clientPort: 40000));
        StunResponse second = Challenge(host.Client(clientPort: 40001));

        Assert.NotEqual(first.Get(StunAttributeType.Nonce), second.Get(StunAttributeType.Nonce));
    }

    [Fact]
    public void Nonce_with_a_forged_expiry_is_refused()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Challenge(client);
        byte[] forged = (byte[])client.Nonce!.Clone();
        // Flip one character of the base64url payload (after cookie and feature set).
        forged[15] = (byte)(forged[15] == (byte)'A' ? 'B' : 'A');
        client.Nonce = forged;

        Assert.Equal(StunErrorCode.StaleNonce, client.SendOnce(TurnTestClient.AllocateRequest()).ErrorCode);
    }

    private static TurnTestHost RestHost(params string[] secrets) =>
        new(TurnTestHost.CreateOptions(sharedSecrets: secrets));

    [Fact]
    public void Turn_rest_credential_signed_with_the_shared_secret_is_accepted()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + 3600, "carol");
        TurnTestClient client = host.Client(username, password);

        StunResponse response = client.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegrity(client.Md5Key));
        Assert.Equal(username, client.Allocation!.Username);
    }

    [Fact]
    public void Turn_rest_credential_works_with_sha256()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + 3600);
        TurnTestClient client = host.Client(username, password, mode: ClientAuthMode.Sha256);

        StunResponse response = client.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.True(response.VerifyMessageIntegritySha256(client.Sha256Key));
    }

    [Fact]
    public void Turn_rest_username_of_only_the_expiry_is_accepted()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + 60, name: null);

        Assert.True(host.Client(username, password).Allocate().IsSuccess);
    }

    [Fact]
    public void Turn_rest_credential_signed_with_the_second_of_two_secrets_is_accepted()
    {
        TurnTestHost host = RestHost("old-secret", "new-secret");
        (string username, string password) = TurnTestHost.RestCredential("new-secret", host.NowUnixSeconds + 3600);

        Assert.True(host.Client(username, password).Allocate().IsSuccess);
    }

    [Fact]
    public void Turn_rest_credential_signed_with_an_unknown_secret_is_rejected_with_401()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("some-other-secret", host.NowUnixSeconds + 3600);

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode);
    }

    [Fact]
    public void Expired_turn_rest_credential_is_rejected_with_401()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds - 1);

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Turn_rest_credential_expires_by_the_wall_clock()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + 60);
        TurnTestClient client = host.Client(username, password);
        Assert.True(client.Allocate().IsSuccess);

        host.Time.StepWallClock(TimeSpan.FromSeconds(60));

        Assert.Equal(StunErrorCode.Unauthenticated, client.Refresh().ErrorCode);
    }

    [Fact]
    public void Turn_rest_credential_valid_for_more_than_24_hours_is_rejected_with_401()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + (long)TimeSpan.FromHours(24).TotalSeconds + 1);

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode);
    }

    [Fact]
    public void Turn_rest_credential_valid_for_exactly_24_hours_is_accepted()
    {
        TurnTestHost host = RestHost("rest-api-secret");
        (string username, string password) = TurnTestHost.RestCredential("rest-api-secret", host.NowUnixSeconds + (long)TimeSpan.FromHours(24).TotalSeconds);

        Assert.True(host.Client(username, password).Allocate().IsSuccess);
    }

    [Theory]
    [InlineData("carol")]
    [InlineData("tomorrow:carol")]
    [InlineData(":carol")]
    [InlineData("-1700000000:carol")]
    [InlineData("+1900000000:carol")]
    [InlineData("1234567890123:carol")]
    [InlineData(" 1900000000:carol")]
    public void Malformed_turn_rest_username_is_rejected_with_401(string username)
    {
        TurnTestHost host = RestHost("rest-api-secret");
        // Even signed correctly with the secret, a user name without a plain expiry is refused.
        string password = Convert.ToBase64String(System.Security.Cryptography.HMACSHA1.HashData(
            Encoding.UTF8.GetBytes("rest-api-secret"), Encoding.UTF8.GetBytes(username)));

        Assert.Equal(StunErrorCode.Unauthenticated, host.Client(username, password).Allocate().ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Static_users_still_authenticate_when_shared_secrets_are_configured()
    {
        TurnTestHost host = RestHost("rest-api-secret");

        Assert.True(host.Client("alice").Allocate().IsSuccess);
    }

    [Fact]
    public void Anonymous_allocate_is_refused_by_default()
    {
        var host = new TurnTestHost();
        TurnTestClient anonymous = host.Client(username: null);

        StunResponse response = anonymous.Allocate();

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Anonymous_allocate_succeeds_when_AllowAnonymous_is_set()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(allowAnonymous: true));
        TurnTestClient anonymous = host.Client(username: null);

        StunResponse response = anonymous.Allocate();

        Assert.True(response.IsSuccess, response.Describe());
        Assert.False(response.Has(StunAttributeType.MessageIntegrity));
        Assert.False(response.Has(StunAttributeType.MessageIntegritySha256));
        Assert.Equal(1, host.Server.AllocationCount);
    }

    [Fact]
    public void Anonymous_server_still_checks_credentials_that_are_offered()
    {
        var host = new TurnTestHost(TurnTestHost.CreateOptions(allowAnonymous: true));
        TurnTestClient client = host.Client("alice", "wrong");
        client.Realm = StunAuth.Utf8(TurnTestHost.Realm);
        client.Nonce = StunAuth.Utf8("obMatJos2AAADnot-a-real-nonce");

        StunResponse response = client.Allocate();

        Assert.Equal(StunErrorCode.Unauthenticated, response.ErrorCode);
        Assert.Equal(0, host.Server.AllocationCount);
    }

    [Fact]
    public void Error_responses_to_authenticated_requests_are_signed()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client(mode: ClientAuthMode.Sha256);
        Assert.True(client.Allocate().IsSuccess);

        StunResponse mismatch = client.Allocate();

        Assert.Equal(StunErrorCode.AllocationMismatch, mismatch.ErrorCode);
        Assert.True(mismatch.VerifyMessageIntegritySha256(client.Sha256Key));
    }

    [Fact]
    public void Authentication_failures_are_counted_by_reason()
    {
        var host = new TurnTestHost();
        host.Client("alice", "wrong").Allocate();
        host.Client("mallory", "x").Allocate();

        Assert.Equal(1, host.Server.Counters.GetAuthFailures(Auth.AuthFailure.BadIntegrity));
        Assert.Equal(1, host.Server.Counters.GetAuthFailures(Auth.AuthFailure.UnknownUser));
        Assert.Equal(2, host.Server.Counters.GetAuthFailures(Auth.AuthFailure.MissingIntegrity));
    }
}

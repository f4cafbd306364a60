using System.Buffers.Binary;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>Two ways a server, or a user, once got the probe to break its promises (found in review).</summary>
public sealed class TurnProbeReviewRegressionTests
{
    [Fact]
    public async Task A_challenge_with_a_huge_password_algorithms_list_fails_the_step_and_never_throws()
    {
        using var server = new FakeTurnServer((request, client) =>
        {
            if (FakeTurnServer.MethodOf(request) == StunMethod.Binding)
            {
                return [FakeTurnServer.BindingSuccess(request, client)];
            }
            StunMessageReader.TryParse(request, out StunMessageReader reader);
            byte[] buffer = new byte[8192];
            var writer = new StunMessageWriter(buffer, reader.Method, StunClass.ErrorResponse, reader.TransactionIdBytes);
            writer.AddErrorCode(401, "Unauthenticated");
            writer.AddString(StunAttributeType.Realm, "r");
            writer.AddString(StunAttributeType.Nonce, "obMatJos2AAAAxyz");
            // SHA-256 first, then 5000 bytes more: echoing it back would not fit any request.
            byte[] list = new byte[5000];
            BinaryPrimitives.WriteUInt16BigEndian(list, 2);
            writer.AddAttribute(StunAttributeType.PasswordAlgorithms, list);
            writer.AddFingerprint();
            return [buffer[..writer.Length]];
        });

        TurnProbeReport report = await TurnProbe.RunAsync(new TurnProbeOptions
        {
            Server = new TurnUrl("127.0.0.1", server.Port, ProbeTransport.Udp),
            Username = "u",
            Password = "password",
            Count = 1,
            Timeout = TimeSpan.FromSeconds(2),
        });

        ProbeStep failed = Assert.IsType<ProbeStep>(report.FirstFailure);
        Assert.Equal("allocate", failed.Name);
        Assert.Contains("PASSWORD-ALGORITHMS of 5000 bytes", failed.Detail);
    }

    [Fact]
    public async Task A_probe_cancelled_after_allocating_still_deletes_its_allocation()
    {
        int refreshes = 0;
        using var cancel = new CancellationTokenSource();
        using var server = new FakeTurnServer((request, client) =>
        {
            StunMethod method = FakeTurnServer.MethodOf(request);
            if (method == StunMethod.Binding)
            {
                return [FakeTurnServer.BindingSuccess(request, client)];
            }
            if (method == StunMethod.Refresh)
            {
                Interlocked.Increment(ref refreshes);
                return [FakeTurnServer.Respond(request, StunClass.SuccessResponse)];
            }
            if (method == StunMethod.Allocate)
            {
                // The user gives up while the probe goes on to its next step.
                cancel.CancelAfter(100);
                return [FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
                    w.AddXorAddress(StunAttributeType.XorRelayedAddress, TransportAddress.FromIPv4(0x7F000001, 50000)))];
            }
            return [];
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TurnProbe.RunAsync(new TurnProbeOptions
        {
            Server = new TurnUrl("127.0.0.1", server.Port, ProbeTransport.Udp),
            Username = "u",
            Password = "password",
            Count = 1,
            Timeout = TimeSpan.FromSeconds(5),
        }, cancel.Token));

        // The Refresh with LIFETIME 0 went out before RunAsync returned, and the fake answered it.
        Assert.True(Volatile.Read(ref refreshes) >= 1, "the allocation was not deleted");
    }
}

using System.Net;
using System.Text;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// The probe against servers that misbehave: garbage, unauthentic answers, a challenge it cannot answer,
/// a stale nonce, error responses with reason phrases of their own. It reports every case as a step
/// that fails with a reason, and never throws.
/// </summary>
public sealed class TurnProbeRobustnessTests
{
    private const string User = "tech";
    private const string Password = "probe-password";
    private const string Realm = "fake.test";

    private static readonly byte[] Key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, User, Realm, Password);

    private static Task<TurnProbeReport> ProbeAsync(FakeTurnServer server, double timeoutSeconds = 1) =>
        TurnProbe.RunAsync(new TurnProbeOptions
        {
            Server = new TurnUrl("127.0.0.1", server.Port, ProbeTransport.Udp),
            Username = User,
            Password = Password,
            Count = 3,
            Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        });

    private static ProbeStep Step(TurnProbeReport report, string name) => report.Steps.Single(s => s.Name == name);

    private static void AssertFailedAt(TurnProbeReport report, string step)
    {
        Assert.False(report.Passed);
        Assert.Equal(step, report.FirstFailure?.Name);
        int index = report.Steps.ToList().FindIndex(s => s.Name == step);
        Assert.All(report.Steps.Take(index), s => Assert.Equal(ProbeOutcome.Pass, s.Outcome));
        Assert.All(report.Steps.Skip(index + 1), s => Assert.Equal(ProbeOutcome.Skipped, s.Outcome));
        Assert.Equal(7, report.Steps.Count);
    }

    /// <summary>Datagrams that are not the answer: noise, broken STUN, other transactions, a forged fingerprint (NatBehaviorProbeRobustnessTests sends them too).</summary>
    internal static IEnumerable<byte[]> Garbage(byte[] request)
    {
        yield return Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\n\r\n");
        yield return [0x00];
        yield return new byte[20];
        byte[] truncated = FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPv4(0x7F000001, 9)));
        yield return truncated[..^3];
        byte[] lengthLies = (byte[])truncated.Clone();
        lengthLies[3] = 0xFC;
        yield return lengthLies;
        byte[] otherTransaction = (byte[])truncated.Clone();
        otherTransaction[10] ^= 0xFF;
        yield return otherTransaction;
        byte[] badFingerprint = (byte[])truncated.Clone();
        badFingerprint[^1] ^= 0x01;
        yield return badFingerprint;
        // An error response whose ERROR-CODE says class 7: not a code at all (RFC 8489 §14.8).
        byte[] badCode = FakeTurnServer.Respond(request, StunClass.ErrorResponse, (ref StunMessageWriter w) =>
            w.AddAttribute(StunAttributeType.ErrorCode, [0, 0, 7, 1]));
        yield return badCode;
        yield return [0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4];
        yield return Random.Shared.GetItems<byte>(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), 300);
    }

    [Fact]
    public async Task Garbled_answers_are_passed_over_and_binding_fails_with_no_answer_in_time()
    {
        using var server = new FakeTurnServer((request, _) => Garbage(request));
        TurnProbeReport report = await ProbeAsync(server);
        AssertFailedAt(report, TurnProbe.BindingStep);
        string detail = Step(report, TurnProbe.BindingStep).Detail;
        Assert.StartsWith("no answer to Binding within 1 s over udp", detail, StringComparison.Ordinal);
        Assert.Contains("unreadable or unauthentic message(s) ignored", detail, StringComparison.Ordinal);
        // RFC 8489 §6.2.1: the request was retransmitted while nothing answered.
        Assert.True(server.Received.Count >= 2, $"{server.Received.Count} datagrams");
    }

    [Fact]
    public async Task The_real_answer_after_garbage_is_taken()
    {
        using var server = new FakeTurnServer((request, from) => FakeTurnServer.MethodOf(request) == StunMethod.Binding
            ? [.. Garbage(request), FakeTurnServer.BindingSuccess(request, from)]
            : []);
        TurnProbeReport report = await ProbeAsync(server);
        Assert.Equal(ProbeOutcome.Pass, Step(report, TurnProbe.BindingStep).Outcome);
        Assert.Contains("reflexive 127.0.0.1:", Step(report, TurnProbe.BindingStep).Detail, StringComparison.Ordinal);
        // The Allocate is never answered: the step after says so.
        AssertFailedAt(report, TurnProbe.AllocateStep);
        Assert.StartsWith("no answer to Allocate within 1 s over udp", Step(report, TurnProbe.AllocateStep).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_401_without_nonce_fails_allocate_and_says_the_challenge_cannot_be_answered()
    {
        using var server = new FakeTurnServer((request, from) => FakeTurnServer.MethodOf(request) switch
        {
            StunMethod.Binding => [FakeTurnServer.BindingSuccess(request, from)],
            _ => [FakeTurnServer.Error(request, StunErrorCode.Unauthenticated, "Unauthenticated",
                (ref StunMessageWriter w) => w.AddString(StunAttributeType.Realm, Realm))],
        });
        TurnProbeReport report = await ProbeAsync(server);
        AssertFailedAt(report, TurnProbe.AllocateStep);
        Assert.Equal("401 Unauthenticated without NONCE: the server's challenge cannot be answered (RFC 8489 §9.2.4)",
            Step(report, TurnProbe.AllocateStep).Detail);
    }

    /// <summary>
    /// The whole long-term credential dance against a server of RFC 5389's kind (no PASSWORD-ALGORITHMS,
    /// so MD5 and MESSAGE-INTEGRITY): 401, then 438 with a new nonce, then success. The next request
    /// (CreatePermission) is refused with 403 and a reason phrase of the server's own.
    /// </summary>
    [Fact]
    public async Task A_438_is_retried_with_the_new_nonce_and_a_403_reason_phrase_is_reported()
    {
        var allocateNonces = new List<string?>();
        var integrityChecked = new List<bool>();
        using var server = new FakeTurnServer((request, from) =>
        {
            StunMessageReader.TryParse(request, out StunMessageReader reader);
            bool signed = reader.HasMessageIntegrity;
            if (signed)
            {
                integrityChecked.Add(StunIntegrity.VerifyMessageIntegrity(request, reader.MessageIntegrityOffset, Key));
            }
            string? nonce = FakeTurnServer.NonceOf(request);
            switch (reader.Method)
            {
                case StunMethod.Binding:
                    return [FakeTurnServer.BindingSuccess(request, from)];
                case StunMethod.Allocate:
                    lock (allocateNonces)
                    {
                        allocateNonces.Add(nonce);
                    }
                    if (!signed)
                    {
                        return [Challenge(request, StunErrorCode.Unauthenticated, "first-nonce")];
                    }
                    if (nonce == "first-nonce")
                    {
                        return [Challenge(request, StunErrorCode.StaleNonce, "second-nonce")];
                    }
                    return [FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
                    {
                        w.AddXorAddress(StunAttributeType.XorRelayedAddress, TransportAddress.FromIPv4(0xC6336401, (ushort)(50000 + from.Port % 1000)));
                        w.AddUInt32(StunAttributeType.Lifetime, 600);
                        w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPEndPoint(from));
                    }, Key)];
                default:
                    return [FakeTurnServer.Error(request, StunErrorCode.Forbidden, "peer not on the list")];
            }
        });
        TurnProbeReport report = await ProbeAsync(server);

        Assert.Equal(ProbeOutcome.Pass, Step(report, TurnProbe.AllocateStep).Outcome);
        Assert.Matches(@"^relayed 198\.51\.100\.1:\d+, lifetime 600 s$", Step(report, TurnProbe.AllocateStep).Detail);
        Assert.Equal(ProbeOutcome.Pass, Step(report, TurnProbe.PeerAllocateStep).Outcome);
        // Each client: unsigned, then the first nonce, then (after 438) the second.
        Assert.Equal([null, "first-nonce", "second-nonce", null, "first-nonce", "second-nonce"], allocateNonces);
        Assert.All(integrityChecked, Assert.True);

        AssertFailedAt(report, TurnProbe.PermissionStep);
        Assert.Equal("403 Forbidden: the relay refused the peer address (server: \"peer not on the list\")", Step(report, TurnProbe.PermissionStep).Detail);
        Assert.StartsWith("FAIL: turn:127.0.0.1:", report.Verdict, StringComparison.Ordinal);
        Assert.EndsWith("failed at permission: 403 Forbidden: the relay refused the peer address (server: \"peer not on the list\")", report.Verdict, StringComparison.Ordinal);

        static byte[] Challenge(byte[] request, int code, string nonce) =>
            FakeTurnServer.Error(request, code, StunErrorCode.GetReasonPhrase(code), (ref StunMessageWriter w) =>
            {
                w.AddString(StunAttributeType.Realm, Realm);
                w.AddString(StunAttributeType.Nonce, nonce);
            });
    }

    [Fact]
    public async Task A_server_that_keeps_saying_stale_nonce_fails_after_a_few_retries()
    {
        int stale = 0;
        using var server = new FakeTurnServer((request, from) =>
        {
            StunMessageReader.TryParse(request, out StunMessageReader reader);
            if (reader.Method == StunMethod.Binding)
            {
                return [FakeTurnServer.BindingSuccess(request, from)];
            }
            int code = reader.HasMessageIntegrity ? StunErrorCode.StaleNonce : StunErrorCode.Unauthenticated;
            if (code == StunErrorCode.StaleNonce)
            {
                Interlocked.Increment(ref stale);
            }
            return [FakeTurnServer.Error(request, code, StunErrorCode.GetReasonPhrase(code), (ref StunMessageWriter w) =>
            {
                w.AddString(StunAttributeType.Realm, Realm);
                w.AddString(StunAttributeType.Nonce, Guid.NewGuid().ToString());
            })];
        });
        TurnProbeReport report = await ProbeAsync(server);
        AssertFailedAt(report, TurnProbe.AllocateStep);
        Assert.Equal("438 Stale Nonce: the server kept calling the nonce stale", Step(report, TurnProbe.AllocateStep).Detail);
        Assert.Equal(3, stale);
    }

    [Fact]
    public async Task A_508_names_the_code_and_what_it_means()
    {
        using var server = new FakeTurnServer((request, from) => FakeTurnServer.MethodOf(request) switch
        {
            StunMethod.Binding => [FakeTurnServer.BindingSuccess(request, from)],
            _ => [FakeTurnServer.Error(request, StunErrorCode.InsufficientCapacity, "Insufficient Capacity")],
        });
        TurnProbeReport report = await ProbeAsync(server);
        AssertFailedAt(report, TurnProbe.AllocateStep);
        Assert.Equal("508 Insufficient Capacity: the relay has no room for another allocation, permission or channel", Step(report, TurnProbe.AllocateStep).Detail);
    }

    [Fact]
    public async Task A_hostile_reason_phrase_reaches_the_report_without_control_characters_and_cut_short()
    {
        string hostile = "\u001b[2J\u001b]0;owned\u0007" + new string('x', 500) + "\r\nFAKE PASS";
        using var server = new FakeTurnServer((request, from) => FakeTurnServer.MethodOf(request) switch
        {
            StunMethod.Binding => [FakeTurnServer.BindingSuccess(request, from)],
            _ => [FakeTurnServer.Error(request, StunErrorCode.ServerError, hostile)],
        });
        TurnProbeReport report = await ProbeAsync(server);
        string detail = Step(report, TurnProbe.AllocateStep).Detail;
        Assert.StartsWith("500 Server Error: the server failed (server: \"", detail, StringComparison.Ordinal);
        Assert.DoesNotContain(detail, char.IsControl);
        Assert.True(detail.Length < 200, detail);
        Assert.DoesNotContain("FAKE PASS", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_success_whose_message_integrity_does_not_verify_is_discarded()
    {
        byte[] wrongKey = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, User, Realm, "someone else's password");
        using var server = new FakeTurnServer((request, from) =>
        {
            StunMessageReader.TryParse(request, out StunMessageReader reader);
            if (reader.Method == StunMethod.Binding)
            {
                return [FakeTurnServer.BindingSuccess(request, from)];
            }
            if (!reader.HasMessageIntegrity)
            {
                return [FakeTurnServer.Error(request, StunErrorCode.Unauthenticated, "Unauthenticated", (ref StunMessageWriter w) =>
                {
                    w.AddString(StunAttributeType.Realm, Realm);
                    w.AddString(StunAttributeType.Nonce, "n");
                })];
            }
            return [FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorRelayedAddress, TransportAddress.FromIPv4(0xC6336401, 50000)), wrongKey)];
        });
        TurnProbeReport report = await ProbeAsync(server);
        AssertFailedAt(report, TurnProbe.AllocateStep);
        Assert.Contains("unreadable or unauthentic message(s) ignored", Step(report, TurnProbe.AllocateStep).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_relays_nothing_fails_the_echo_and_the_allocations_are_still_released()
    {
        int refreshes = 0;
        using var server = new FakeTurnServer((request, from) =>
        {
            if (!StunMessageReader.LooksLikeStun(request))
            {
                return []; // ChannelData: swallowed.
            }
            StunMessageReader.TryParse(request, out StunMessageReader reader);
            if (reader.Method == StunMethod.Refresh)
            {
                Interlocked.Increment(ref refreshes);
            }
            return [FakeTurnServer.Respond(request, StunClass.SuccessResponse, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPEndPoint(from));
                w.AddXorAddress(StunAttributeType.XorRelayedAddress, TransportAddress.FromIPv4(0xC6336401, (ushort)from.Port));
                w.AddUInt32(StunAttributeType.Lifetime, 600);
            })];
        });
        TurnProbeReport report = await ProbeAsync(server, timeoutSeconds: 0.3);
        AssertFailedAt(report, TurnProbe.EchoStep);
        Assert.Equal("sent 3, received 0, lost 3: nothing came back through the relay", Step(report, TurnProbe.EchoStep).Detail);
        Assert.Equal(new EchoStatistics(3, 0, null, null, null), report.Echo);
        Assert.Equal(2, refreshes);
    }
}

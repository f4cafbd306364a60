using EdgeRelay.Tests.Support;
using static EdgeRelay.Tests.Probe.NatProbeOutput;

namespace EdgeRelay.Tests.Probe;

/// <summary>
/// <c>edgerelay probe nat</c> behind Linux's own NAT (<see cref="NatLab"/>): EdgeRelay, the shipped binary,
/// is the RFC 5780 server on 10.99.0.1:3478 and 10.99.0.2:3479 in one namespace, the probe runs in another
/// behind iptables MASQUERADE in a third, and it must name what the kernel does.
///
/// What the kernel does, from its source and iptables-extensions(8):
/// - MASQUERADE is endpoint-independent mapping with port preservation: for each new conntrack entry
///   nf_nat_core.c get_unique_tuple() keeps the original source port when the translated tuple is not in use
///   (nf_nat_used_tuple()), and it is not: the tuples towards the server's other address and port differ in
///   their destination. So tests I, II and III of RFC 5780 §4.3 all see the same address and port.
/// - "--random-fully: Fully randomize source port mapping" (iptables-extensions(8), MASQUERADE;
///   NF_NAT_RANGE_PROTO_RANDOM_FULLY in nf_nat_proto.c): every new destination gets a fresh random port,
///   which is address and port-dependent mapping.
/// - Filtering is address and port-dependent in both cases: an inbound datagram is translated back only
///   when it matches the reply tuple of a conntrack entry (nf_conntrack_core.c, resolve_normal_ct() looks up
///   the full five-tuple), and the reply tuple holds the server's address and port. An answer from the other
///   address or the other port (CHANGE-REQUEST, RFC 5780 §4.4 tests II and III) matches nothing, is not
///   translated, and ends at the NAT namespace's own input with no socket for it.
/// - No hairpinning: a datagram from inside to the NAT's outside address matches no conntrack entry and
///   no DNAT rule either, so it is delivered to the NAT namespace itself rather than back inside (RFC 5780 §4.5).
/// </summary>
public sealed class NatBehindLinuxNatTests
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(30);

    private sealed class Setup : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-natlab-").FullName;

        public Setup(NatLabKind kind)
        {
            Lab = NatLab.Create(kind);
            try
            {
                string state = Path.Combine(_directory, "state");
                string config = RelayConfigFile.Write(_directory, 3478, address: NatLab.ServerAddress, more: $$"""
                    "stateDirectory": "{{state}}",
                      "natDiscovery": { "enabled": true, "alternateAddress": "{{NatLab.AlternateAddress}}", "alternatePort": 3479 }
                    """);
                Relay = NatLab.Start(Lab.Server, AotBinary.Path, "run", "--config", config);
                Assert.True(Relay.WaitForOutput("NAT behaviour discovery (RFC 5780) on udp", StartLimit), $"the relay did not start:\n{Relay.Output}");
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public NatLab Lab { get; }
        public ExternalProcess? Relay { get; }

        public (int ExitCode, string Output) Probe(params string[] arguments) =>
            NatLab.RunIn(Lab.Client, RunLimit, Command(["--stun", $"{NatLab.ServerAddress}:3478", "--timeout", "1", .. arguments]));

        public void Dispose()
        {
            // The relay first: a namespace with a process in it outlives its name.
            Relay?.Dispose();
            Lab.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public void Behind_MASQUERADE_it_finds_endpoint_independent_mapping_and_says_direct_calls_are_likely()
    {
        using var setup = new Setup(NatLabKind.Masquerade);

        (int exit, string output) = setup.Probe();

        Assert.True(exit == 0, output);
        Assert.Equal("yes", Finding(output, "udp"));
        Assert.Equal("behind a NAT", Finding(output, "nat"));
        Assert.Contains($"mapped address {NatLab.NatOutsideAddress}:", output, StringComparison.Ordinal);
        Assert.Equal("endpoint-independent mapping", Finding(output, "mapping"));
        Assert.Equal("address and port-dependent filtering", Finding(output, "filtering"));
        Assert.Equal("no hairpinning", Finding(output, "hairpinning"));
        Assert.Equal("preserved", Finding(output, "port"));
        Assert.Contains("direct peer-to-peer with STUN", Verdict(output), StringComparison.Ordinal);
    }

    [Fact]
    public void Behind_MASQUERADE_random_fully_it_finds_address_and_port_dependent_mapping_and_says_calls_need_TURN()
    {
        using var setup = new Setup(NatLabKind.MasqueradeRandomFully);

        (int exit, string output) = setup.Probe();

        // Three random ports for tests I, II and III; two of them equal by chance is a few in 60 000 runs.
        Assert.True(exit == 0, output);
        Assert.Equal("behind a NAT", Finding(output, "nat"));
        Assert.Equal("address and port-dependent mapping", Finding(output, "mapping"));
        Assert.Equal("address and port-dependent filtering", Finding(output, "filtering"));
        Assert.Equal("no hairpinning", Finding(output, "hairpinning"));
        Assert.Contains("calls need a TURN relay", Verdict(output), StringComparison.Ordinal);
    }

    [Fact]
    public void The_binding_lifetime_is_bounded_by_the_NATs_udp_timeout()
    {
        using var setup = new Setup(NatLabKind.Masquerade);
        // The NAT namespace's own conntrack timeout for UDP (a per-namespace setting): a binding idle for
        // 2 s is forgotten, one idle for 8 s certainly. Only that it expired within the maximum is asserted,
        // never where exactly the wait fell.
        NatLab.Exec(setup.Lab.Nat, "sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=2");

        (int exit, string output) = setup.Probe("--lifetime-max", "8");

        Assert.True(exit == 0, output);
        Assert.Matches("^(between .+ and .+|less than .+)$", Finding(output, "lifetime"));
    }
}

namespace EdgeRelay.Tests.Probe;

/// <summary>
/// A lab of two private networks, each behind a NAT of its own, whose only common ground is the server:
/// <code>
///  client ns                 nat ns                              server ns                          peer nat ns                          peer ns
///  c0 192.168.99.2/24 ─ n0 192.168.99.1/24 │ n1 10.99.0.254/24 ─ s0 10.99.0.1/24  s1 10.98.0.1/24 ─ n1 10.98.0.254/24 │ n0 192.168.98.1/24 ─ c0 192.168.98.2/24
///  default via .1             default via 10.99.0.1                ip_forward=0        default via 10.98.0.1                  default via .1
///                             MASQUERADE [--random-fully]                               MASQUERADE [--random-fully]
/// </code>
/// Both NATs route everything that is not theirs to the server, as a home router sends it to its ISP, so a
/// datagram from one side towards the other really leaves its network; the server does not forward it
/// (ip_forward=0, set here because a new namespace starts with the host's IPv4 settings: devconf_inherit_init_net
/// in the kernel's Documentation/admin-guide/sysctl/net.rst), so the two sides meet only where a program on the
/// server relays for them. The server keeps <see cref="AlternateAddress"/> on s0 as in <see cref="Create"/>. The
/// peer's side is a second client-and-NAT pair: its names are those of another lab number, so
/// <see cref="RemoveLeftovers"/> recognises them as it does the others.
/// </summary>
public sealed partial class NatLab
{
    public const string ServerPeerSideAddress = "10.98.0.1";
    public const string PeerNatOutsideAddress = "10.98.0.254";
    public const string PeerAddress = "192.168.98.2";

    private string? _peerNat;
    private string? _peer;
    private NatLabKind? _peerKind;

    /// <summary>The peer's NAT namespace (<see cref="CreateWithPeer"/> only).</summary>
    public string PeerNat => _peerNat ?? throw NoPeerSide();

    /// <summary>The peer's namespace, behind <see cref="PeerNat"/> (<see cref="CreateWithPeer"/> only).</summary>
    public string Peer => _peer ?? throw NoPeerSide();

    public NatLabKind PeerKind => _peerKind ?? throw NoPeerSide();

    /// <summary>
    /// The lab of <see cref="Create"/> (client behind <paramref name="clientNat"/>) and a peer behind a second NAT
    /// (<paramref name="peerNat"/>) whose outside link goes into the server namespace on another subnet.
    /// </summary>
    public static NatLab CreateWithPeer(NatLabKind clientNat, NatLabKind peerNat)
    {
        NatLab lab = Create(clientNat);
        try
        {
            lab.AddPeerSide(peerNat);
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The words that run a program inside <paramref name="space"/> (<c>ip netns exec SPACE</c>), for a launcher
    /// that takes one file to execute and starts it itself, such as a browser driver.
    /// </summary>
    public static IReadOnlyList<string> InNamespace(string space) => [Tool("ip", "iproute2"), "netns", "exec", space];

    private void AddPeerSide(NatLabKind kind)
    {
        string ip = Tool("ip", "iproute2");
        string id = $"{Prefix}{Environment.ProcessId}-{Interlocked.Increment(ref s_labs)}";
        _peerNat = id + "n";
        _peer = id + "c";
        _peerKind = kind;
        foreach (string name in new[] { _peerNat, _peer })
        {
            Run(ip, "netns", "add", name);
            _namespaces.Add(name);
            Run(ip, "-n", name, "link", "set", "lo", "up");
        }
        // The same interface names as on the client's side: each lives in its own namespace.
        Run(ip, "link", "add", "c0", "netns", _peer, "type", "veth", "peer", "name", "n0", "netns", _peerNat);
        Run(ip, "link", "add", "n1", "netns", _peerNat, "type", "veth", "peer", "name", "s1", "netns", Server);
        Run(ip, "-n", _peer, "addr", "add", PeerAddress + "/24", "dev", "c0");
        Run(ip, "-n", _peer, "link", "set", "c0", "up");
        Run(ip, "-n", _peer, "route", "add", "default", "via", "192.168.98.1");
        Run(ip, "-n", _peerNat, "addr", "add", "192.168.98.1/24", "dev", "n0");
        Run(ip, "-n", _peerNat, "link", "set", "n0", "up");
        Run(ip, "-n", _peerNat, "addr", "add", PeerNatOutsideAddress + "/24", "dev", "n1");
        Run(ip, "-n", _peerNat, "link", "set", "n1", "up");
        Run(ip, "-n", _peerNat, "route", "add", "default", "via", ServerPeerSideAddress);
        Run(ip, "-n", Server, "addr", "add", ServerPeerSideAddress + "/24", "dev", "s1");
        Run(ip, "-n", Server, "link", "set", "s1", "up");
        // The client's NAT gets the same way out, so that nothing stops a datagram for the peer's side before the server.
        Run(ip, "-n", Nat, "route", "add", "default", "via", ServerAddress);
        Exec(Server, "sysctl", "-qw", "net.ipv4.ip_forward=0");
        Exec(_peerNat, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        string[] masquerade = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "n1", "-j", "MASQUERADE"];
        Exec(_peerNat, kind == NatLabKind.MasqueradeRandomFully ? [.. masquerade, "--random-fully"] : masquerade);
    }

    private static InvalidOperationException NoPeerSide() =>
        new("this lab has no peer side: NatLab.CreateWithPeer builds one");
}

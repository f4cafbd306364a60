using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// NAT behaviour discovery as an RFC 5780 client: UDP connectivity (§4.2), mapping behaviour (§4.3),
/// filtering behaviour (§4.4), hairpinning (§4.5), port preservation, and on request the binding lifetime
/// (§4.6). Every test runs over UDP from local sockets of its own; the findings use the RFC's terms. It
/// never throws for anything a server or the network does: a test that cannot conclude says why.
/// </summary>
public sealed class NatBehaviorProbe
{
    private readonly NatBehaviorOptions _options;
    private readonly CancellationToken _cancellation;
    private readonly List<NatFinding> _findings = [];

    /// <summary>The other address answered test II of §4.3: silence in the filtering tests can then be the NAT's doing.</summary>
    private bool _otherAnswered;

    private NatBehaviorProbe(NatBehaviorOptions options, CancellationToken cancellation)
    {
        _options = options;
        _cancellation = cancellation;
    }

    private TimeSpan Timeout => _options.Timeout;

    public static async Task<NatBehaviorReport> RunAsync(NatBehaviorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(options.Servers.Count);
        var probe = new NatBehaviorProbe(options, cancellationToken);
        try
        {
            return await probe.RunTestsAsync().ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            // Only the local side throws (no socket of that family, no address to bind): the network's failures are findings.
            probe.Add(NatBehaviorReport.UdpLine, "not tested", $"this host could not open a UDP socket: {e.Message}");
            return probe.Report(udpWorks: false) with { Tested = false };
        }
    }

    /// <summary>A fresh local port where the options say (the relay's address and port range for the box's self-check).</summary>
    private NatBehaviorSocket Open(AddressFamily family) => NatBehaviorSocket.Open(family, _options.LocalAddress, _options.LocalPorts, _cancellation);

    private void Add(string name, string value, string detail) => _findings.Add(new NatFinding(name, value, detail));

    private NatBehaviorReport Report(bool udpWorks, TransportAddress? mapped = null, bool? behindNat = null, NatMapping mapping = NatMapping.Unknown,
        NatFiltering filtering = NatFiltering.Unknown, bool? hairpinning = null, bool? portPreserved = null) => new()
    {
        Servers = string.Join(", ", _options.Servers),
        UdpWorks = udpWorks,
        MappedAddress = mapped?.ToString(),
        MappedIPAddress = mapped?.ToIPAddress(),
        BehindNat = behindNat,
        Mapping = mapping,
        Filtering = filtering,
        Hairpinning = hairpinning,
        PortPreserved = portPreserved,
        Findings = _findings,
    };

    private async Task<NatBehaviorReport> RunTestsAsync()
    {
        IPEndPoint? primary = await ResolveAsync(_options.Servers[0], _options.Family, first: true).ConfigureAwait(false);
        if (primary is null)
        {
            return Report(udpWorks: false) with { Tested = false };
        }
        IPEndPoint? second = _options.Servers.Count > 1 ? await ResolveAsync(_options.Servers[1], primary.AddressFamily, first: false).ConfigureAwait(false) : null;

        using NatBehaviorSocket main = Open(primary.AddressFamily);
        // RFC 5780 §4.2, test I: a plain Binding request; an answer means UDP gets through to the server and back.
        NatAnswer? test1 = await main.BindingAsync(primary, Timeout).ConfigureAwait(false);
        if (test1 is null)
        {
            string ignored = main.Ignored > 0 ? $"; {main.Ignored} unreadable message(s) ignored" : string.Empty;
            Add(NatBehaviorReport.UdpLine, "no answer",
                $"test I, RFC 5780 §4.2: nothing came back from {primary} within {ProbeText.Seconds(Timeout)}: UDP is blocked on the way, or no STUN server listens there{ignored}");
            return Report(udpWorks: false);
        }
        if (test1.Mapped is not { } mapped)
        {
            Add(NatBehaviorReport.UdpLine, "answered, but no mapped address", test1.IsSuccess
                ? $"test I, RFC 5780 §4.2: {primary}'s Binding success response has no XOR-MAPPED-ADDRESS (RFC 8489 §14.2)"
                : $"test I, RFC 5780 §4.2: {primary} answered {test1.Answer.ErrorCode} {test1.Answer.ReasonText}");
            return Report(udpWorks: true);
        }

        IPAddress local = _options.LocalAddress is { } bound && !bound.Equals(IPAddress.Any) && !bound.Equals(IPAddress.IPv6Any) ? bound : RouteSource(primary);
        bool behindNat = !(mapped.ToIPAddress().Equals(local) && mapped.Port == main.LocalPort);
        Add(NatBehaviorReport.UdpLine, "yes", $"test I, RFC 5780 §4.2: {primary} answered, mapped address {mapped}");
        Add(NatBehaviorReport.NatLine, behindNat ? "behind a NAT" : "no NAT", behindNat
            ? $"the mapped address {mapped} is not this host's {local}:{main.LocalPort}"
            : $"the mapped address is this host's own {mapped}");

        TransportAddress? other = UsableOtherAddress(test1, primary);
        NatMapping mapping = await MappingAsync(main, primary, mapped, other, second, behindNat).ConfigureAwait(false);
        NatFiltering filtering = other is not { } alternate ? NoFilteringTest(primary, second)
            : _otherAnswered ? await FilteringAsync(primary, alternate).ConfigureAwait(false)
            : FilteringUnknown($"the other address {alternate} did not answer the mapping tests, so no answer in RFC 5780 §4.4 would prove anything");
        bool? hairpinning = await HairpinningAsync(main, primary, mapped).ConfigureAwait(false);

        // RFC 4787 §4.2.1: port preservation, the NAT keeping the local port as the mapped port where it can.
        bool portPreserved = mapped.Port == main.LocalPort;
        Add(NatBehaviorReport.PortLine, portPreserved ? "preserved" : "not preserved", $"local port {main.LocalPort}, mapped port {mapped.Port}");

        await LifetimeAsync(primary).ConfigureAwait(false);
        return Report(udpWorks: true, mapped, behindNat, mapping, filtering, hairpinning, portPreserved);
    }

    /// <summary>
    /// OTHER-ADDRESS (RFC 5780 §7.4) when it can serve the tests: the same family as the server, and another
    /// address and another port (§4.3 and §4.4 need both to differ).
    /// </summary>
    private TransportAddress? UsableOtherAddress(NatAnswer test1, IPEndPoint primary)
    {
        if (test1.Answer.OtherAddress is not { } other)
        {
            return null;
        }
        TransportAddress server = TransportAddress.FromIPEndPoint(primary);
        if (other.Family != server.Family || other.HasSameAddress(server) || other.Port == server.Port)
        {
            Add("other", "not usable",
                $"{primary} gave OTHER-ADDRESS {other}, which does not differ from it in both address and port (RFC 5780 §7.4)");
            return null;
        }
        return other;
    }

    /// <summary>
    /// RFC 5780 §4.3: test II to the other address and the primary port; the same mapped address as test I
    /// is endpoint-independent mapping. Otherwise test III to the other address and port: the same as test II
    /// is address-dependent, a third mapped address is address and port-dependent. Without OTHER-ADDRESS a
    /// second server stands in for test II.
    /// </summary>
    private async Task<NatMapping> MappingAsync(NatBehaviorSocket main, IPEndPoint primary, TransportAddress mapped, TransportAddress? other,
        IPEndPoint? second, bool behindNat)
    {
        NatMapping independent = behindNat ? NatMapping.EndpointIndependent : NatMapping.NoNat;
        if (other is { } alternate)
        {
            var test2Server = new IPEndPoint(alternate.ToIPAddress(), primary.Port);
            if ((await main.BindingAsync(test2Server, Timeout).ConfigureAwait(false))?.Mapped is not { } mapped2)
            {
                return MappingUnknown($"test II, RFC 5780 §4.3: no answer from the other address {test2Server} within {ProbeText.Seconds(Timeout)}");
            }
            _otherAnswered = true;
            if (mapped2 == mapped)
            {
                return MappingFound(independent, $"RFC 5780 §4.3: tests I and II ({primary}, {test2Server}) got the same mapped address {mapped}");
            }
            if ((await main.BindingAsync(alternate.ToIPEndPoint(), Timeout).ConfigureAwait(false))?.Mapped is not { } mapped3)
            {
                return MappingUnknown($"test II got {mapped2}, not test I's {mapped}, and test III, RFC 5780 §4.3: no answer from {alternate}");
            }
            return mapped3 == mapped2
                ? MappingFound(NatMapping.AddressDependent, $"RFC 5780 §4.3: test II got {mapped2}, not test I's {mapped}; test III (other port) the same as test II")
                : MappingFound(NatMapping.AddressAndPortDependent, $"RFC 5780 §4.3: tests I, II and III got {mapped}, {mapped2} and {mapped3}");
        }
        if (second is not null)
        {
            string method = $"compared two servers, {primary} and {second}, as test I's answer had no OTHER-ADDRESS (RFC 5780 §4.3 needs it)";
            if ((await main.BindingAsync(second, Timeout).ConfigureAwait(false))?.Mapped is not { } mappedSecond)
            {
                return MappingUnknown($"no answer from the second server {second} within {ProbeText.Seconds(Timeout)}");
            }
            if (mappedSecond == mapped)
            {
                return MappingFound(independent, $"{method}: both saw {mapped}");
            }
            // Two servers on one address differ only in port: the mapping depends on the port as well.
            return MappingFound(second.Address.Equals(primary.Address) ? NatMapping.AddressAndPortDependent : NatMapping.Dependent,
                $"{method}: {primary} saw {mapped}, {second} saw {mappedSecond}");
        }
        Add(NatBehaviorReport.MappingLine, "not tested",
            $"RFC 5780 §4.3 needs a server with two addresses: {primary} sent no OTHER-ADDRESS; give an RFC 5780 server, or a second server with --stun A,B");
        return behindNat ? NatMapping.Unknown : NatMapping.NoNat;
    }

    private NatMapping MappingFound(NatMapping mapping, string detail) =>
        Found(NatBehaviorReport.MappingLine, NatBehaviorReport.Term(mapping), detail, mapping);

    private NatMapping MappingUnknown(string detail) => Found(NatBehaviorReport.MappingLine, "unknown", detail, NatMapping.Unknown);

    /// <summary>Adds the finding's line and returns what it found.</summary>
    private T Found<T>(string name, string value, string detail, T finding)
    {
        Add(name, value, detail);
        return finding;
    }

    private NatFiltering NoFilteringTest(IPEndPoint primary, IPEndPoint? second) => Found(NatBehaviorReport.FilteringLine, "not tested", second is null
        ? $"RFC 5780 §4.4 needs a server with two addresses: {primary} sent no OTHER-ADDRESS"
        : "RFC 5780 §4.4 needs a server with two addresses that answers from the other one (CHANGE-REQUEST); two plain servers cannot test it",
        NatFiltering.Unknown);

    /// <summary>
    /// RFC 5780 §4.4, from a fresh local port (the mapping tests' sends to the other address would have
    /// opened the filter towards it): test I, then test II asks the server to answer from its other address
    /// and port; an answer is endpoint-independent filtering. Otherwise test III asks for the other port only:
    /// an answer is address-dependent filtering, none address and port-dependent filtering.
    /// </summary>
    private async Task<NatFiltering> FilteringAsync(IPEndPoint primary, TransportAddress other)
    {
        using NatBehaviorSocket socket = Open(primary.AddressFamily);
        if ((await socket.BindingAsync(primary, Timeout).ConfigureAwait(false))?.Mapped is null)
        {
            return FilteringUnknown($"test I from a second local port got no answer from {primary}");
        }
        IPEndPoint test2From = other.ToIPEndPoint();
        NatAnswer? test2 = await socket.BindingAsync(primary, Timeout, ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort).ConfigureAwait(false);
        if (test2 is not null)
        {
            return Unchanged(test2, test2From, "II") ?? FilteringFound(NatFiltering.EndpointIndependent,
                $"RFC 5780 §4.4: test II's answer from the other address and port {test2From} came through");
        }
        var test3From = new IPEndPoint(primary.Address, other.Port);
        NatAnswer? test3 = await socket.BindingAsync(primary, Timeout, ChangeRequestFlags.ChangePort).ConfigureAwait(false);
        string none = $"no answer to test II (other address and port) within {ProbeText.Seconds(Timeout)}";
        if (test3 is not null)
        {
            return Unchanged(test3, test3From, "III") ?? FilteringFound(NatFiltering.AddressDependent,
                $"RFC 5780 §4.4: {none}; test III's answer from the other port {test3From} came through");
        }
        return FilteringFound(NatFiltering.AddressAndPortDependent,
            $"RFC 5780 §4.4: {none}, nor to test III (other port only)");
    }

    /// <summary>A changed request's answer that is an error, or that did not come from where CHANGE-REQUEST asked, tells nothing about the NAT.</summary>
    private NatFiltering? Unchanged(NatAnswer answer, IPEndPoint expected, string test)
    {
        if (!answer.IsSuccess)
        {
            return FilteringUnknown(
                $"the server answered test {test}'s CHANGE-REQUEST with {answer.Answer.ErrorCode} {answer.Answer.ReasonText}: it does not run the RFC 5780 tests");
        }
        if (!answer.From.Equals(expected))
        {
            return FilteringUnknown(
                $"test {test}'s answer came from {answer.From}, not from {expected} as CHANGE-REQUEST asked (RFC 5780 §6.1): the server does not change its address");
        }
        return null;
    }

    private NatFiltering FilteringFound(NatFiltering filtering, string detail) =>
        Found(NatBehaviorReport.FilteringLine, NatBehaviorReport.Term(filtering), detail, filtering);

    private NatFiltering FilteringUnknown(string detail) => Found(NatBehaviorReport.FilteringLine, "unknown", detail, NatFiltering.Unknown);

    /// <summary>
    /// RFC 5780 §4.5: hairpinning, a datagram from inside to the NAT's own mapped address delivered back
    /// inside. A second local port learns its mapped address; each port sends a marker to the other's mapped
    /// address. The first port's send also opens its filter towards the second's mapped address, so that a
    /// filtering NAT (§4.4) does not hide a hairpin that works.
    /// </summary>
    private async Task<bool?> HairpinningAsync(NatBehaviorSocket first, IPEndPoint primary, TransportAddress firstMapped)
    {
        using NatBehaviorSocket second = Open(primary.AddressFamily);
        if ((await second.BindingAsync(primary, Timeout).ConfigureAwait(false))?.Mapped is not { } secondMapped)
        {
            Add(NatBehaviorReport.HairpinningLine, "unknown", $"a second local port got no mapped address from {primary}");
            return null;
        }
        byte[] firstId = RandomNumberGenerator.GetBytes(StunConstants.TransactionIdLength);
        byte[] secondId = RandomNumberGenerator.GetBytes(StunConstants.TransactionIdLength);
        Task<bool> atFirst = first.WaitForAsync((message, _) => IsMarker(message, secondId), Timeout);
        Task<bool> atSecond = second.WaitForAsync((message, _) => IsMarker(message, firstId), Timeout);
        Task both = Task.WhenAll(atFirst, atSecond);
        TimeSpan interval = ProbeClient.InitialRto;
        for (int i = 0; i < 3 && !both.IsCompleted; i++)
        {
            await first.SendAsync(NatBehaviorSocket.BindingRequest(firstId), secondMapped.ToIPEndPoint()).ConfigureAwait(false);
            await second.SendAsync(NatBehaviorSocket.BindingRequest(secondId), firstMapped.ToIPEndPoint()).ConfigureAwait(false);
            await Task.WhenAny(both, Task.Delay(interval, _cancellation)).ConfigureAwait(false);
            interval *= 2;
        }
        bool hairpinned = await atFirst.ConfigureAwait(false) | await atSecond.ConfigureAwait(false);
        Add(NatBehaviorReport.HairpinningLine, hairpinned ? "hairpinning" : "no hairpinning", hairpinned
            ? $"RFC 5780 §4.5: a datagram to the mapped address {firstMapped} from {secondMapped} came back inside"
            : $"RFC 5780 §4.5: datagrams between the mapped addresses {firstMapped} and {secondMapped} did not come back inside within {ProbeText.Seconds(Timeout)}");
        return hairpinned;
    }

    private static bool IsMarker(byte[] message, byte[] transactionId) =>
        StunMessageReader.TryParse(message, out StunMessageReader reader) == StunParseError.None
        && reader.Class == StunClass.Request && reader.TransactionIdBytes.SequenceEqual(transactionId);

    /// <summary>
    /// RFC 5780 §4.6: a port X learns its mapping and stays idle for a while; then another port Y asks the server
    /// to answer to X's mapped port (RESPONSE-PORT, §7.5). The answer reaching X means the binding outlived the
    /// wait. Rather than the RFC's one-after-another binary search, the waits (1, 2, 4 … seconds up to the
    /// maximum) run side by side, each on its own port X, so a run takes the maximum wait and no more.
    /// </summary>
    private async Task LifetimeAsync(IPEndPoint primary)
    {
        if (_options.LifetimeMax is not { } max)
        {
            Add(NatBehaviorReport.LifetimeLine, "not measured", "RFC 5780 §4.6 is slow by nature; ask with --lifetime");
            return;
        }
        using NatBehaviorSocket y = Open(primary.AddressFamily);
        NatAnswer? check = await y.BindingAsync(primary, Timeout).ConfigureAwait(false);
        if (check?.Mapped is not { } yMapped
            || (await y.BindingAsync(primary, Timeout, responsePort: yMapped.Port).ConfigureAwait(false)) is not { IsSuccess: true })
        {
            Add(NatBehaviorReport.LifetimeLine, "not measured", $"{primary} did not answer a request with RESPONSE-PORT (RFC 5780 §7.5)");
            return;
        }
        var waits = new List<TimeSpan>();
        for (TimeSpan wait = TimeSpan.FromSeconds(1); wait < max; wait *= 2)
        {
            waits.Add(wait);
        }
        waits.Add(max);
        (TimeSpan Wait, bool? Alive)[] trials = await Task.WhenAll(waits.Select(async wait =>
        {
            using NatBehaviorSocket x = Open(primary.AddressFamily);
            if ((await x.BindingAsync(primary, Timeout).ConfigureAwait(false))?.Mapped is not { } xMapped)
            {
                return (wait, (bool?)null);
            }
            await Task.Delay(wait, _cancellation).ConfigureAwait(false);
            return (wait, await y.BindingAsync(primary, Timeout, responsePort: xMapped.Port, answerOn: x).ConfigureAwait(false) is not null);
        })).ConfigureAwait(false);
        TimeSpan? longestAlive = trials.Where(t => t.Alive == true).Select(t => (TimeSpan?)t.Wait).Max();
        TimeSpan? shortestGone = trials.Where(t => t.Alive == false).Select(t => (TimeSpan?)t.Wait).Min();
        (string value, string detail) = (longestAlive, shortestGone) switch
        {
            (null, null) => ("unknown", "no port got a mapped address to wait on"),
            ({ } alive, null) => ($"at least {ProbeText.Seconds(alive)}", $"RFC 5780 §4.6: a binding idle for {ProbeText.Seconds(alive)} still delivered; --lifetime-max measures longer"),
            (null, { } gone) => ($"less than {ProbeText.Seconds(gone)}", $"RFC 5780 §4.6: a binding idle for {ProbeText.Seconds(gone)} no longer delivered"),
            ({ } alive, { } gone) when alive < gone => ($"between {ProbeText.Seconds(alive)} and {ProbeText.Seconds(gone)}",
                $"RFC 5780 §4.6: idle {ProbeText.Seconds(alive)} still delivered, idle {ProbeText.Seconds(gone)} did not"),
            ({ } alive, { } gone) => ("unknown", $"RFC 5780 §4.6: idle {ProbeText.Seconds(gone)} did not deliver but idle {ProbeText.Seconds(alive)} did: datagrams were lost"),
        };
        Add(NatBehaviorReport.LifetimeLine, value, detail);
    }

    /// <summary>The address this host sends from towards <paramref name="server"/>: what the mapped address is compared with.</summary>
    private static IPAddress RouteSource(IPEndPoint server)
    {
        using var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        // Connecting a UDP socket sends nothing; it only picks the route and the source address.
        socket.Connect(server);
        return ((IPEndPoint)socket.LocalEndPoint!).Address;
    }

    /// <param name="family">The family the server must have: the options' for the first one (any when null), the first one's for the second.</param>
    private async Task<IPEndPoint?> ResolveAsync(StunServerAddress server, AddressFamily? family, bool first)
    {
        if (IPAddress.TryParse(server.Host, out IPAddress? literal))
        {
            return family is null || literal.AddressFamily == family ? new IPEndPoint(literal, server.Port)
                : Unresolved(server, first, first ? $"is not an {FamilyName(family.Value)} address, and the tests run over {FamilyName(family.Value)}" : "is of another address family than the first server");
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_cancellation);
        timeout.CancelAfter(Timeout);
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(server.Host, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!_cancellation.IsCancellationRequested)
        {
            return Unresolved(server, first, $"no answer from DNS within {ProbeText.Seconds(Timeout)}");
        }
        catch (SocketException e)
        {
            return Unresolved(server, first, e.Message);
        }
        // IPv4 first, as the relay probe does; a second server must be of the first one's family.
        IPAddress? chosen = family is { } wanted
            ? addresses.FirstOrDefault(a => a.AddressFamily == wanted)
            : addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return chosen is null
            ? Unresolved(server, first, family is { } needed ? $"the name has no {FamilyName(needed)} address" : "the name has no usable address")
            : new IPEndPoint(chosen, server.Port);
    }

    private static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    private IPEndPoint? Unresolved(StunServerAddress server, bool first, string why)
    {
        Add(first ? NatBehaviorReport.UdpLine : "server", "not tested", $"{server}: {why}");
        return null;
    }
}

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRelay.Appliance.Diagnostics;

public sealed record NatFindingDocument(string Name, string Value, string Detail);

/// <summary>
/// <c>edgerelay probe nat --json</c>: the findings as the text prints them, with the behaviours as
/// stable keys (<c>endpoint-independent</c>, <c>address-dependent</c>, <c>address-and-port-dependent</c>,
/// <c>dependent</c>, <c>no-nat</c>, <c>unknown</c>).
/// </summary>
public sealed record NatBehaviorDocument(
    string Servers,
    bool Completed,
    bool UdpWorks,
    string? MappedAddress,
    string Mapping,
    string Filtering,
    bool? Hairpinning,
    bool? PortPreserved,
    string Verdict,
    IReadOnlyList<NatFindingDocument> Findings)
{
    public static NatBehaviorDocument From(NatBehaviorReport report) => new(
        report.Servers,
        report.Completed,
        report.UdpWorks,
        report.MappedAddress,
        Key(report.Mapping.ToString()),
        Key(report.Filtering.ToString()),
        report.Hairpinning,
        report.PortPreserved,
        report.Verdict,
        report.Findings.Select(f => new NatFindingDocument(f.Name, f.Value, f.Detail)).ToList());

    /// <summary>For a terminal and for jq: "§" and "…" as they are (the text is not for a web page).</summary>
    private static readonly NatBehaviorJsonContext Json = new(new JsonSerializerOptions(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static string ToJson(NatBehaviorReport report) => JsonSerializer.Serialize(From(report), Json.NatBehaviorDocument);

    /// <summary><c>AddressAndPortDependent</c> → <c>address-and-port-dependent</c>.</summary>
    private static string Key(string name) => JsonNamingPolicy.KebabCaseLower.ConvertName(name);
}

[JsonSerializable(typeof(NatBehaviorDocument))]
internal sealed partial class NatBehaviorJsonContext : JsonSerializerContext;

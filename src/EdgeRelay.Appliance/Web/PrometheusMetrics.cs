using System.Globalization;
using System.Text;
using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Net;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Auth;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Appliance.Web;

/// <summary>
/// <c>GET /metrics</c> in the Prometheus text exposition format (version 0.0.4). Labels come from fixed
/// sets only (reasons, directions, states), never from user names or addresses, so that ephemeral
/// TURN REST user names cannot grow the series without bound.
/// </summary>
public static class PrometheusMetrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Write(RelayEngine engine, ApplianceStatus status, long uptimeSeconds, string version, ConfigurationDocument? configuration = null,
        ClockStatus? clock = null, UpdateStatus? update = null)
    {
        var text = new StringBuilder(4096);
        TurnCounters c = engine.Server.Counters;
        if (configuration?.Version is long configurationVersion)
        {
            Metric(text, "edgerelay_configuration_version", "gauge", "The version of the configuration in force.", ("", configurationVersion));
        }
        if (configuration?.Cloud?.LastContact is DateTimeOffset contact)
        {
            Metric(text, "edgerelay_cloud_last_contact_timestamp_seconds", "gauge",
                "When the configuration endpoint last answered with a good document or a 304 (Unix seconds).", ("", contact.ToUnixTimeSeconds()));
        }

        if (update is not null)
        {
            // The versions a fleet runs are few and chosen by its operator: a label, not an unbounded set.
            Metric(text, "edgerelay_update_info", "gauge", "The release that runs (its slot: a, b, or packaged) and the phase of an update (1 for the current combination).",
                ($"running_version=\"{Escape(update.RunningVersion)}\",slot=\"{update.Slot ?? "packaged"}\",phase=\"{UpdateStatus.PhaseName(update.Phase)}\"", 1L));
            Metric(text, "edgerelay_update_rolled_back", "gauge", "1 while the newest rollback on this box is of a version newer than the running one (D13).",
                ("", status.Reasons.Any(r => r == StatusReasons.UpdateRolledBack) ? 1L : 0L));
            if (update.Size is long size)
            {
                Metric(text, "edgerelay_update_download_bytes", "gauge", "Bytes of the update's binary downloaded so far, of edgerelay_update_size_bytes.", ("", update.DownloadedBytes ?? 0));
                Metric(text, "edgerelay_update_size_bytes", "gauge", "The size of the update's binary, from its signed manifest.", ("", size));
            }
        }
        if (clock is not null)
        {
            Metric(text, "edgerelay_clock_synchronised", "gauge",
                "1 while the kernel says an NTP client disciplines the clock (adjtimex STA_UNSYNC clear), 0 otherwise.",
                ("", clock.State == ClockSynchronisation.Synchronised ? 1L : 0L));
            Metric(text, "edgerelay_clock_trusted", "gauge",
                "1 while the clock can be trusted (synchronised, and within 5 minutes of the cloud's Date header when there is one).", ("", clock.Trusted ? 1L : 0L));
            if (clock.MaxErrorSeconds is double maxError)
            {
                Metric(text, "edgerelay_clock_max_error_seconds", "gauge", "The kernel's maximum error estimate of the clock (adjtimex maxerror).", ("", maxError));
            }
            if (clock.CloudDateOffsetSeconds is double offset)
            {
                Metric(text, "edgerelay_clock_cloud_offset_seconds", "gauge",
                    "The cloud endpoint's Date header minus the local clock (positive: the local clock is behind).", ("", offset));
            }
        }

        Metric(text, "edgerelay_info", "gauge", "Build and engine of this relay.",
            ($"version=\"{Escape(version)}\",backend=\"{engine.Backend.ToConfigName()}\"", 1));
        Metric(text, "edgerelay_uptime_seconds", "gauge", "Seconds since the relay started.", ("", uptimeSeconds));
        Metric(text, "edgerelay_health", "gauge", "1 for the box's current health, 0 for the others.",
            Enum.GetValues<Health>().Select(h => ($"state=\"{Name(h.ToString())}\"", h == status.Health ? 1L : 0L)).ToArray());
        Metric(text, "edgerelay_status_reason", "gauge", "1 while a reason for degraded or fault is active (stable codes).",
            StatusReasons.All.Select(r => ($"code=\"{r.Code}\",severity=\"{Name(r.Severity.ToString())}\"", status.Reasons.Contains(r) ? 1L : 0L)).ToArray());
        Metric(text, "edgerelay_allocations", "gauge", "Allocations now, by the transport their client uses.",
            Enum.GetValues<TransportProtocol>().Select(p => ($"transport=\"{Name(p.ToString())}\"", (long)engine.Server.AllocationCountOf(p))).ToArray());
        Metric(text, "edgerelay_allocations_max", "gauge", "limits.maxAllocations.", ("", engine.Server.Options.MaxAllocations));
        Metric(text, "edgerelay_allocations_created_total", "counter", "Allocations created.", ("", c.AllocationsCreated));
        Metric(text, "edgerelay_allocations_ended_total", "counter", "Allocations ended.", ("", c.AllocationsEnded));
        Metric(text, "edgerelay_permissions_created_total", "counter", "Permissions created.", ("", c.PermissionsCreated));
        Metric(text, "edgerelay_channels_bound_total", "counter", "Channels bound.", ("", c.ChannelsBound));
        Metric(text, "edgerelay_relayed_packets_total", "counter", "Packets relayed.",
            ("direction=\"to_peer\"", c.PacketsToPeers), ("direction=\"from_peer\"", c.PacketsFromPeers));
        Metric(text, "edgerelay_relayed_bytes_total", "counter", "Payload bytes relayed.",
            ("direction=\"to_peer\"", c.BytesToPeers), ("direction=\"from_peer\"", c.BytesFromPeers));
        Metric(text, "edgerelay_auth_failures_total", "counter", "Requests refused by authentication, by reason.",
            Enum.GetValues<AuthFailure>().Where(r => r != AuthFailure.None)
                .Select(r => ($"reason=\"{Name(r.ToString())}\"", c.GetAuthFailures(r))).ToArray());
        Metric(text, "edgerelay_peer_refusals_total", "counter", "Peer addresses refused by the peer policy, by reason.",
            Enum.GetValues<PeerDecision>().Where(d => !d.IsAllowed())
                .Select(d => ($"reason=\"{Name(d.ToString())}\"", c.GetPeerRefusals(d))).ToArray());
        Metric(text, "edgerelay_quota_rejections_total", "counter",
            "Requests refused by a quota: allocations per user (486), permissions and channels per allocation (508).",
            Enum.GetValues<Quota>().Select(q => ($"quota=\"{Name(q.ToString())}\"", c.GetQuotaRejections(q))).ToArray());
        Metric(text, "edgerelay_capacity_rejections_total", "counter", "Requests refused for capacity (508).", ("", c.CapacityRejections));
        Metric(text, "edgerelay_rate_limited_total", "counter", "Requests not answered by a rate limit: 401/438 per client address, failed logins per user name, requests per allocation.",
            ("limit=\"challenges_per_address\"", c.ChallengesRateLimited), ("limit=\"failed_logins_per_user\"", c.LoginsRateLimited),
            ("limit=\"requests_per_allocation\"", c.AllocationRequestsRateLimited));
        Metric(text, "edgerelay_allocations_redirected_total", "counter", "Allocate sent to an alternate server (300 Try Alternate): draining or at capacity.",
            ("", c.AllocationsRedirected));
        Metric(text, "edgerelay_draining", "gauge", "1 while the relay drains: new allocations go elsewhere, calls in progress go on.",
            ("", engine.Server.Draining ? 1L : 0L));
        Metric(text, "edgerelay_dropped_packets_total", "counter", "Packets dropped, by reason.",
            ("reason=\"malformed\"", c.MalformedPackets), ("reason=\"no_permission\"", c.DroppedNoPermission),
            ("reason=\"no_allocation\"", c.DroppedNoAllocation), ("reason=\"oversized\"", engine.OversizedDatagrams));
        Metric(text, "edgerelay_binding_requests_total", "counter", "STUN Binding requests answered.", ("", c.BindingRequests));
        Metric(text, "edgerelay_stream_connections", "gauge", "TCP and TLS connections now, by transport.",
            ("transport=\"tcp\"", engine.StreamConnectionCountOf(TransportProtocol.Tcp)),
            ("transport=\"tls\"", engine.StreamConnectionCountOf(TransportProtocol.Tls)));
        Metric(text, "edgerelay_refused_connections_total", "counter", "TCP and TLS connections refused by limits.", ("", engine.RefusedConnections));
        Metric(text, "edgerelay_evicted_connections_total", "counter",
            "TCP and TLS connections without an allocation closed to make room for a new one at limits.maxConnections.", ("", engine.EvictedConnections));
        Metric(text, "edgerelay_send_failures_total", "counter", "Datagrams the kernel refused to send.", ("", engine.SendFailures));
        Metric(text, "edgerelay_slow_client_dropped_bytes_total", "counter", "Bytes dropped for TCP and TLS clients that read too slowly.",
            ("", engine.BytesDroppedToSlowClients));
        return text.ToString();
    }

    private static void Metric(StringBuilder text, string name, string type, string help, (string Labels, double Value) sample)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        text.Append(name).Append(' ').Append(sample.Value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void Metric(StringBuilder text, string name, string type, string help, params (string Labels, long Value)[] samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach ((string labels, long value) in samples)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }
            text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    /// <summary>PascalCase enum names as snake_case label values.</summary>
    private static string Name(string pascal)
    {
        var name = new StringBuilder(pascal.Length + 8);
        for (int i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0)
            {
                name.Append('_');
            }
            name.Append(char.ToLowerInvariant(pascal[i]));
        }
        return name.ToString();
    }

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}

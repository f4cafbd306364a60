namespace EdgeRelay.Turn;

/// <summary>The quotas a request can run into, for <see cref="TurnCounters.GetQuotaRejections"/> (limits.* in the README).</summary>
public enum Quota
{
    /// <summary>limits.maxAllocationsPerUser: Allocate gets 486 Allocation Quota Reached (RFC 8656 §7.2).</summary>
    AllocationsPerUser,

    /// <summary>limits.maxPermissionsPerAllocation: CreatePermission or ChannelBind gets 508 (RFC 8656 §9.2, §11.2).</summary>
    PermissionsPerAllocation,

    /// <summary>limits.maxChannelsPerAllocation: ChannelBind gets 508.</summary>
    ChannelsPerAllocation,
}

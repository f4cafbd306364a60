namespace EdgeRelay.Appliance.Cloud;

/// <summary>A document that passed validation, ready to apply.</summary>
/// <param name="Version">Its <c>version</c>: must grow from one applied document to the next.</param>
/// <param name="TrustedKeys">The keys it names for the next documents (a rotation), or null to keep the current ones.</param>
/// <param name="PollInterval">A new poll interval it sets, or null.</param>
public sealed record CloudCandidate<T>(T Configuration, long Version, IReadOnlyList<TrustedKey>? TrustedKeys, TimeSpan? PollInterval);

/// <summary>Thrown by a sink when a document is not valid or cannot be applied; the message says why and names the key.</summary>
public sealed class CloudDocumentException(string message) : Exception(message);

/// <summary>
/// What the puller hands verified documents to: the composition root, which knows what a configuration
/// means. The puller knows signatures, versions, HTTP and the store; the sink knows the relay.
/// </summary>
public interface ICloudConfigurationSink<T>
{
    /// <summary>Parses and checks the configuration JSON; throws <see cref="CloudDocumentException"/>.</summary>
    CloudCandidate<T> Validate(byte[] payload);

    /// <summary>
    /// Applies it to the running relay without dropping allocations. On failure it throws
    /// <see cref="CloudDocumentException"/> after leaving (or putting back) the previous configuration.
    /// </summary>
    void Apply(CloudCandidate<T> candidate);
}

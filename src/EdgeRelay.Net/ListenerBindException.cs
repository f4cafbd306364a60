namespace EdgeRelay.Net;

/// <summary>A listener or relay address could not be bound; the message names the endpoint and why.</summary>
public sealed class ListenerBindException(string message, Exception? inner = null) : Exception(message, inner);

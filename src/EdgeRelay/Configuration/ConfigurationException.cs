namespace EdgeRelay.Configuration;

/// <summary>A configuration that cannot be used; the message names the key, the value and what was expected.</summary>
public sealed class ConfigurationException(string message) : Exception(message);

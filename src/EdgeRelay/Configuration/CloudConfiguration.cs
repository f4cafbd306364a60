using System.Text;
using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Configuration;

/// <summary>How a cloud document and the bootstrap file make the configuration a box runs.</summary>
public static class CloudConfiguration
{
    /// <summary>
    /// The document, with what only the bootstrap decides: the state directory and the cloud section
    /// (its URL, token, CA, timeouts), whose trusted keys and poll interval the document may replace.
    /// </summary>
    public static RelayConfiguration Merge(RelayConfiguration bootstrap, RelayConfiguration document, CloudOverrides overrides)
    {
        CloudOptions cloud = bootstrap.Cloud ?? throw new ArgumentException("the bootstrap has no cloud section", nameof(bootstrap));
        return document with
        {
            StateDirectory = bootstrap.StateDirectory,
            Cloud = cloud with
            {
                TrustedKeys = overrides.TrustedKeys ?? cloud.TrustedKeys,
                PollInterval = overrides.PollInterval ?? cloud.PollInterval,
            },
        };
    }

    /// <summary>Parses and merges the payload of a verified document; <see cref="ConfigurationException"/> names the key.</summary>
    public static RelayConfiguration FromPayload(RelayConfiguration bootstrap, byte[] payload, out CloudOverrides overrides)
    {
        string json;
        try
        {
            json = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(payload);
        }
        catch (DecoderFallbackException)
        {
            throw new ConfigurationException("the document is not UTF-8 text");
        }
        RelayConfiguration document = ConfigurationReader.ParseCloudDocument(json, out overrides);
        return Merge(bootstrap, document, overrides);
    }
}

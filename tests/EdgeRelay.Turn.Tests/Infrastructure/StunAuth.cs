using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>The long-term credential attributes of one request (RFC 8489 §9.2.3); null leaves an attribute out.</summary>
public sealed class StunAuth
{
    public string? Username { get; set; }
    public byte[]? Userhash { get; set; }
    public byte[]? Realm { get; set; }
    public byte[]? Nonce { get; set; }
    public byte[]? PasswordAlgorithms { get; set; }
    public PasswordAlgorithm? PasswordAlgorithm { get; set; }
    public required byte[] Key { get; set; }
    public bool Sha256Integrity { get; set; }

    public static byte[] Utf8(string value) => Encoding.UTF8.GetBytes(value);
}

using System.Buffers.Text;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// A slot's manifest is read back without its signature (checked once, at install): what
/// <see cref="SignedDocument.TryReadPayloadUnverified"/> makes of what may be on disk.
/// </summary>
public sealed class ManifestOnDiskTests : IDisposable
{
    private readonly ReleaseSigner _signer = new();

    public void Dispose() => _signer.Dispose();

    private ReleaseManifest Manifest => ReleaseSigner.ManifestOf(ReleaseSigner.Binary(1000, 1), "1.5.0");

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("  \r\n")]
    public void The_signed_manifest_reads_back_with_surrounding_whitespace(string around)
    {
        string signed = _signer.Sign(Manifest);

        Assert.True(SignedDocument.TryReadPayloadUnverified(around + signed + around, out byte[] payload));
        Assert.Equal(Manifest, ReleaseManifest.TryParse(payload, out string? problem));
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("")]
    [InlineData("x")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("a.!!!.c")]
    [InlineData("a.YQ=.c.")]
    public void What_is_not_three_parts_with_a_base64url_middle_reads_as_nothing(string document)
    {
        Assert.False(SignedDocument.TryReadPayloadUnverified(document, out byte[] payload));
        Assert.Empty(payload);
    }

    [Fact]
    public void Any_prefix_of_a_signed_manifest_reads_as_no_manifest_or_as_the_manifest_itself()
    {
        string signed = _signer.Sign(Manifest);
        for (int length = 0; length <= signed.Length; length++)
        {
            if (SignedDocument.TryReadPayloadUnverified(signed[..length], out byte[] payload)
                && ReleaseManifest.TryParse(payload, out _) is { } manifest)
            {
                // Only a cut inside the signature leaves the payload whole; it is then the manifest, unchanged.
                Assert.Equal(Manifest, manifest);
                Assert.True(length > signed.LastIndexOf('.'));
            }
        }
    }

    [Fact]
    public void The_payload_read_unverified_is_the_verified_one()
    {
        string signed = _signer.Sign(Manifest);

        Assert.Equal(SignatureCheck.None, SignedDocument.Verify(signed, [_signer.Trusted], out byte[] verified, out _));
        Assert.True(SignedDocument.TryReadPayloadUnverified(signed, out byte[] unverified));
        Assert.Equal(verified, unverified);
        Assert.Equal(Base64Url.DecodeFromChars(signed.Split('.')[1]), unverified);
        Assert.Equal(Manifest.ToJson(), Encoding.UTF8.GetBytes(Manifest.ToJsonText()));
    }
}

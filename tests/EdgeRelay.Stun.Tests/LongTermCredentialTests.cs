using System.Text;

namespace EdgeRelay.Stun.Tests;

public class LongTermCredentialTests
{
    [Fact]
    public void MD5_key_of_the_RFC5769_credentials_is_e8ca7ad5()
    {
        Assert.Equal(TestVectors.LongTermMd5Key, LongTermCredential.DeriveKey(PasswordAlgorithm.Md5,
            TestVectors.LongTermUsername, TestVectors.LongTermRealm, TestVectors.LongTermPassword));
    }

    [Fact]
    public void SHA256_key_of_the_RFC8489_credentials_is_dd295a61()
    {
        Assert.Equal(TestVectors.LongTermSha256Key, LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256,
            TestVectors.LongTermUsername, TestVectors.LongTermRealm, TestVectors.LongTermPassword));
    }

    [Theory]
    [InlineData(PasswordAlgorithm.Md5, 16)]
    [InlineData(PasswordAlgorithm.Sha256, 32)]
    public void Span_overload_writes_the_same_key_and_reports_its_length(PasswordAlgorithm algorithm, int expectedLength)
    {
        Span<byte> key = stackalloc byte[64];
        key.Fill(0xEE);
        int written = LongTermCredential.DeriveKey(algorithm, Encoding.UTF8.GetBytes(TestVectors.LongTermUsername),
            "example.org"u8, "TheMatrIX"u8, key);

        Assert.Equal(expectedLength, written);
        byte[] expected = algorithm == PasswordAlgorithm.Md5 ? TestVectors.LongTermMd5Key : TestVectors.LongTermSha256Key;
        Assert.Equal(expected, key[..written].ToArray());
        Assert.True(key[written..].IndexOfAnyExcept((byte)0xEE) < 0);
    }

    [Fact]
    public void Userhash_of_the_RFC8489_credentials_is_4a3cf38f()
    {
        Assert.Equal(TestVectors.LongTermUserhash,
            LongTermCredential.ComputeUserhash(TestVectors.LongTermUsername, TestVectors.LongTermRealm));
    }

    [Fact]
    public void Each_part_of_the_credential_changes_the_key()
    {
        byte[] reference = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alice", "example.org", "secret");
        Assert.NotEqual(reference, LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alicE", "example.org", "secret"));
        Assert.NotEqual(reference, LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alice", "example.com", "secret"));
        Assert.NotEqual(reference, LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alice", "example.org", "Secret"));
        // The separators count: "a:bc" is not "ab:c".
        Assert.NotEqual(LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "a", "bc", "d"),
            LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "ab", "c", "d"));
    }
}

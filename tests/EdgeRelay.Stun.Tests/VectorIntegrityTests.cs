namespace EdgeRelay.Stun.Tests;

/// <summary>
/// Integrity and fingerprint of every published vector: they verify as published, and any other key or
/// any changed byte is caught.
/// </summary>
public class VectorIntegrityTests
{
    public static TheoryData<string> Vectors => TestVectors.Names;

    public static TheoryData<string> VectorsWithFingerprint => new() { "5769-2.1", "5769-2.2", "5769-2.3" };

    private static readonly byte[] FlipMasks = [0x01, 0x80, 0xFF];

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Integrity_verifies_with_the_right_key(string vector)
    {
        Assert.True(Parsed.AcceptsAnyIntegrity(TestVectors.Get(vector), TestVectors.KeyOf(vector)));
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Integrity_fails_with_a_wrong_key(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        byte[] key = TestVectors.KeyOf(vector);

        byte[] lastBitFlipped = (byte[])key.Clone();
        lastBitFlipped[^1] ^= 0x01;
        Assert.False(Parsed.AcceptsAnyIntegrity(message, lastBitFlipped));
        Assert.False(Parsed.AcceptsAnyIntegrity(message, key.AsSpan(0, key.Length - 1)));
        // (Not key + 0x00: HMAC zero-pads short keys, so that one is the same key.)
        Assert.False(Parsed.AcceptsAnyIntegrity(message, [.. key, 1]));
        Assert.False(Parsed.AcceptsAnyIntegrity(message, ReadOnlySpan<byte>.Empty));
        Assert.False(Parsed.AcceptsAnyIntegrity(message, "VOkJxbRl1RmTxUk/WvJxBu"u8));
        Assert.False(Parsed.AcceptsAnyIntegrity(message, "TheMatrIX"u8));
        foreach (string other in TestVectors.All)
        {
            if (!TestVectors.KeyOf(other).AsSpan().SequenceEqual(key))
            {
                Assert.False(Parsed.AcceptsAnyIntegrity(message, TestVectors.KeyOf(other)), other);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Any_changed_byte_up_to_the_end_of_the_integrity_attribute_defeats_it(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        byte[] key = TestVectors.KeyOf(vector);
        int covered = Parsed.IntegrityEnd(message);
        for (int position = 0; position < covered; position++)
        {
            foreach (byte mask in FlipMasks)
            {
                byte[] mutated = (byte[])message.Clone();
                mutated[position] ^= mask;
                Assert.False(Parsed.AcceptsAnyIntegrity(mutated, key), $"byte {position} ^ 0x{mask:x2} still verifies");
            }
        }
    }

    [Theory]
    [MemberData(nameof(VectorsWithFingerprint))]
    public void Fingerprint_verifies_where_present(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        Assert.True(Parsed.AcceptsFingerprint(message));
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(message.Length - 8, reader.FingerprintOffset);
    }

    [Theory]
    [MemberData(nameof(VectorsWithFingerprint))]
    public void Any_changed_byte_defeats_the_fingerprint(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        for (int position = 0; position < message.Length; position++)
        {
            foreach (byte mask in FlipMasks)
            {
                byte[] mutated = (byte[])message.Clone();
                mutated[position] ^= mask;
                Assert.False(Parsed.AcceptsFingerprint(mutated), $"byte {position} ^ 0x{mask:x2} still passes the fingerprint");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Integrity_covers_the_length_field_through_the_parser(string vector)
    {
        // The HMAC input has the length field rewritten, so a receiver relies on the parser to refuse a
        // message whose length field does not match the datagram.
        byte[] message = TestVectors.Get(vector);
        for (int delta = -8; delta <= 8; delta += 4)
        {
            if (delta == 0)
            {
                continue;
            }
            byte[] mutated = (byte[])message.Clone();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(mutated.AsSpan(2), (ushort)(message.Length - 20 + delta));
            Assert.Equal(StunParseError.BadLength, StunMessageReader.TryParse(mutated, out _));
        }
    }
}

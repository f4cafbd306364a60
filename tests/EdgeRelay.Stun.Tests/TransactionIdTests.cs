namespace EdgeRelay.Stun.Tests;

public class TransactionIdTests
{
    [Fact]
    public void Transaction_ID_reads_writes_and_prints_its_96_bits()
    {
        byte[] bytes = TestVectors.Rfc5769TransactionId;
        TransactionId id = TransactionId.Read(bytes);
        Assert.Equal("b7e7a701bc34d686fa87dfae", id.ToString());
        byte[] written = new byte[12];
        id.WriteTo(written);
        Assert.Equal(bytes, written);
    }

    [Fact]
    public void Transaction_IDs_differing_in_any_byte_are_different()
    {
        byte[] bytes = TestVectors.Rfc5769TransactionId;
        TransactionId id = TransactionId.Read(bytes);
        Assert.Equal(id, TransactionId.Read((byte[])bytes.Clone()));
        Assert.True(id == TransactionId.Read((byte[])bytes.Clone()));
        for (int i = 0; i < 12; i++)
        {
            byte[] other = (byte[])bytes.Clone();
            other[i] ^= 0x01;
            Assert.NotEqual(id, TransactionId.Read(other));
            Assert.True(id != TransactionId.Read(other));
        }
    }

    [Fact]
    public void New_random_IDs_do_not_repeat()
    {
        var seen = new HashSet<TransactionId>();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(seen.Add(TransactionId.NewRandom()));
        }
    }
}

using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;

// Stores version after version of a signed, configuration-like document with the real
// LastKnownGoodStore, as fast as it can, until it is killed. The power-cut test kills it at random
// moments and checks that the store still loads.
//
// Usage: EdgeRelay.StoreWriter STATE-DIRECTORY PRIVATE-KEY.pem
//
// Protocol on stdout, one line each, written straight to the pipe (Console.Out flushes every write):
//   "saving N"  just before Save(version N) is called;
//   "stored N"  once Save(version N) has returned: from then on a restart must find version N or later.
// It continues from the version the store holds, so consecutive runs on one directory go on counting.
// It exits when its standard input ends: the test holds that pipe open, so a test host that dies
// without killing it (a crash, a cancelled run) does not leave it writing forever.

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: EdgeRelay.StoreWriter STATE-DIRECTORY PRIVATE-KEY.pem");
    return 2;
}

var orphaned = new Thread(() =>
{
    using Stream input = Console.OpenStandardInput();
    byte[] buffer = new byte[64];
    while (input.Read(buffer) > 0)
    {
    }
    Environment.Exit(3);
}) { IsBackground = true, Name = "stdin watch" };
orphaned.Start();

using var key = ECDsa.Create();
key.ImportFromPem(File.ReadAllText(args[1]));
string trustedKey = TrustedKey.FromSigningKey(key).ToString();
var store = new LastKnownGoodStore(args[0]);

StoreLoadResult loaded = store.Load();
if (loaded.Problem is not null)
{
    Console.Error.WriteLine($"the store does not load: {loaded.Problem}");
    return 1;
}
long version = 0;
if (loaded.Document is not null)
{
    using JsonDocument previous = JsonDocument.Parse(loaded.Payload);
    version = previous.RootElement.GetProperty("version").GetInt64();
}

while (true)
{
    version++;
    byte[] payload = ConfigurationLike(version);
    string document = SignedDocument.Sign(payload, key);
    var stored = new StoredDocument(document, version, [trustedKey], $"\"v{version}\"", DateTimeOffset.UtcNow);
    Console.Out.WriteLine($"saving {version}");
    store.Save(stored);
    Console.Out.WriteLine($"stored {version}");
    Console.Out.Flush();
}

// A configuration in the shape of the cloud's (DESIGN.md), between 1 and 64 KB: the size differs from
// one version to the next, so that a file made of pieces of two versions could not pass for either.
static byte[] ConfigurationLike(long version)
{
    var random = new Random(unchecked((int)version));
    int target = random.Next(1024, 64 * 1024);
    var buffer = new ArrayBufferWriter<byte>(target + 512);
    using (var json = new Utf8JsonWriter(buffer))
    {
        json.WriteStartObject();
        json.WriteNumber("version", version);
        json.WriteString("realm", "venue.example.net");
        json.WriteStartArray("listeners");
        json.WriteStartObject();
        json.WriteString("transport", "udp");
        json.WriteString("endpoint", "0.0.0.0:3478");
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("transport", "tcp");
        json.WriteString("endpoint", "0.0.0.0:3478");
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteStartObject("relay");
        json.WriteString("address", "0.0.0.0");
        json.WriteString("externalAddress", "203.0.113.7");
        json.WriteString("portRange", "49152-65535");
        json.WriteEndObject();
        json.WriteStartObject("auth");
        json.WriteStartObject("users");
        int users = 0;
        // About 60 bytes a user; the padding below makes up the rest.
        while (json.BytesPending + json.BytesCommitted < target - 256)
        {
            json.WriteString($"user-{version}-{users++}", $"{random.NextInt64():x16}{random.NextInt64():x16}");
        }
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartObject("peers");
        json.WriteBoolean("allowLoopback", false);
        json.WriteEndObject();
        long written = json.BytesPending + json.BytesCommitted;
        json.WriteString("padding", new string((char)('a' + (version % 26)), (int)Math.Max(0, target - written - 20)));
        json.WriteEndObject();
    }
    return buffer.WrittenSpan.ToArray();
}

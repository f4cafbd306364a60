using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>A release put in a slot the way the updater puts it there: Prepare, the part file, Install.</summary>
internal sealed record InstalledRelease(string Slot, ReleaseManifest Manifest, byte[] Binary, string Signed)
{
    public static InstalledRelease Install(SlotStore store, ReleaseSigner signer, string slot, string version, int seed, int size = 8 * 1024, string? floor = null)
    {
        byte[] binary = ReleaseSigner.Binary(size, seed);
        ReleaseManifest manifest = ReleaseSigner.ManifestOf(binary, version) with { Floor = floor };
        store.Prepare(slot, manifest);
        string part = store.PartPath(slot, manifest);
        File.WriteAllBytes(part, binary);
        string signed = signer.Sign(manifest);
        store.Install(slot, signed, part);
        return new InstalledRelease(slot, manifest, binary, signed);
    }
}

namespace EdgeRelay.Tests.Support;

/// <summary>The binary that ships: artifacts/linux-x64/edgerelay (scripts/publish.sh, run by scripts/test.sh first).</summary>
public static class AotBinary
{
    public static string Path
    {
        get
        {
            string path = Environment.GetEnvironmentVariable("EDGERELAY_AOT_BINARY")
                ?? System.IO.Path.GetFullPath(System.IO.Path.Combine(AppContext.BaseDirectory, "../../../../../artifacts/linux-x64/edgerelay"));
            Assert.True(File.Exists(path), $"{path} does not exist: run scripts/publish.sh linux-x64 first (scripts/test.sh does)");
            return path;
        }
    }
}

using EdgeRelay.Appliance.Clock;

namespace EdgeRelay.Appliance.Tests.Clock;

/// <summary>The contract with the root-side path unit that hands time.ntpServers to systemd-timesyncd.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class TimesyncdConfigurationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-state-").FullName;

    private string FilePath => Path.Combine(_directory, "timesyncd.conf");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Servers_are_written_as_exactly_one_NTP_line_readable_by_all()
    {
        Assert.True(TimesyncdConfiguration.Apply(_directory, ["ntp.office.example", "192.168.1.1", "2001:db8::123"]));

        Assert.Equal("[Time]\nNTP=ntp.office.example 192.168.1.1 2001:db8::123\n", File.ReadAllText(FilePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(FilePath));
        Assert.Empty(Directory.GetFiles(_directory, ".*.tmp"));
    }

    [Fact]
    public void The_same_servers_leave_the_file_alone_and_other_servers_replace_it()
    {
        TimesyncdConfiguration.Apply(_directory, ["ntp.office.example"]);
        DateTime written = File.GetLastWriteTimeUtc(FilePath);

        Assert.False(TimesyncdConfiguration.Apply(_directory, ["ntp.office.example"]));
        Assert.Equal(written, File.GetLastWriteTimeUtc(FilePath));

        Assert.True(TimesyncdConfiguration.Apply(_directory, ["10.0.0.1"]));
        Assert.Equal("[Time]\nNTP=10.0.0.1\n", File.ReadAllText(FilePath));
    }

    [Fact]
    public void A_state_directory_that_does_not_exist_yet_is_made()
    {
        string directory = Path.Combine(_directory, "state");

        Assert.True(TimesyncdConfiguration.Apply(directory, ["ntp.office.example"]));
        Assert.Equal("[Time]\nNTP=ntp.office.example\n", File.ReadAllText(Path.Combine(directory, "timesyncd.conf")));
    }

    [Fact]
    public void No_servers_delete_the_file()
    {
        TimesyncdConfiguration.Apply(_directory, ["ntp.office.example"]);

        Assert.True(TimesyncdConfiguration.Apply(_directory, []));
        Assert.False(File.Exists(FilePath));
        Assert.False(TimesyncdConfiguration.Apply(_directory, []));
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using EdgeRelay.Tests.Shared;

namespace EdgeRelay.Tests.Cloud;

/// <summary>
/// The cloud fixture (tests/Shared/NginxServer.cs) does what the cloud-configuration tests rely on,
/// seen by a plain HttpClient that trusts the test CA alone.
/// </summary>
public sealed class NginxFixtureTests
{
    private const string Document = "config.json";
    private const string Token = "device-t0ken.A_b~c+d/e=";
    private static readonly string DocumentText = "{\"realm\":\"edgerelay.local\",\"padding\":\"" + new string('x', 200) + "\"}";

    [Fact]
    public async Task Serve_answers_200_with_an_ETag_and_304_to_a_matching_If_None_Match()
    {
        await using NginxServer cloud = await StartAsync();
        using HttpClient client = Client(cloud);

        using HttpResponseMessage first = await client.GetAsync(cloud.UrlOf(Document));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(DocumentText, await first.Content.ReadAsStringAsync());
        Assert.Equal("application/json", first.Content.Headers.ContentType?.MediaType);
        EntityTagHeaderValue etag = Assert.IsType<EntityTagHeaderValue>(first.Headers.ETag);

        using var again = new HttpRequestMessage(HttpMethod.Get, cloud.UrlOf(Document));
        again.Headers.IfNoneMatch.Add(etag);
        using HttpResponseMessage second = await client.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, second.StatusCode);
        Assert.Empty(await second.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_rewritten_document_of_the_same_length_gets_a_new_ETag_and_a_200()
    {
        await using NginxServer cloud = await StartAsync();
        using HttpClient client = Client(cloud);
        using HttpResponseMessage first = await client.GetAsync(cloud.UrlOf(Document));

        string changed = DocumentText.Replace("edgerelay.local", "edgerelay.other", StringComparison.Ordinal);
        cloud.WriteDocument(Document, changed);
        using var again = new HttpRequestMessage(HttpMethod.Get, cloud.UrlOf(Document));
        again.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using HttpResponseMessage second = await client.SendAsync(again);

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.NotEqual(first.Headers.ETag, second.Headers.ETag);
        Assert.Equal(changed, await second.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_a_device_token_a_request_without_it_gets_401_and_with_it_200()
    {
        await using NginxServer cloud = await StartAsync(new() { DeviceToken = Token });
        using HttpClient client = Client(cloud);

        using HttpResponseMessage without = await client.GetAsync(cloud.UrlOf(Document));
        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal("Bearer", Assert.Single(without.Headers.WwwAuthenticate).Scheme);

        using HttpResponseMessage wrong = await SendAsync(client, cloud.UrlOf(Document), "not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        using HttpResponseMessage with = await SendAsync(client, cloud.UrlOf(Document), Token);
        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
        Assert.Empty(with.Headers.WwwAuthenticate);
        Assert.Equal(DocumentText, await with.Content.ReadAsStringAsync());

        await cloud.SetDeviceTokenAsync(null);
        using HttpResponseMessage open = await client.GetAsync(cloud.UrlOf(Document));
        Assert.Equal(HttpStatusCode.OK, open.StatusCode);
    }

    [Fact]
    public async Task Status500_mode_answers_every_document_request_with_500()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.Status500 });
        using HttpClient client = Client(cloud);

        using HttpResponseMessage document = await client.GetAsync(cloud.UrlOf(Document));
        using HttpResponseMessage missing = await client.GetAsync(cloud.UrlOf("no-such-file"));

        Assert.Equal(HttpStatusCode.InternalServerError, document.StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, missing.StatusCode);
    }

    [Fact]
    public async Task Switching_modes_takes_effect_before_SetModeAsync_returns_also_on_kept_alive_connections()
    {
        await using NginxServer cloud = await StartAsync();
        using HttpClient client = Client(cloud);

        for (int i = 0; i < 5; i++)
        {
            await cloud.SetModeAsync(NginxMode.Status500);
            using (HttpResponseMessage failing = await client.GetAsync(cloud.UrlOf(Document)))
            {
                Assert.Equal(HttpStatusCode.InternalServerError, failing.StatusCode);
            }

            await cloud.SetModeAsync(NginxMode.Serve);
            using HttpResponseMessage serving = await client.GetAsync(cloud.UrlOf(Document));
            Assert.Equal(HttpStatusCode.OK, serving.StatusCode);
        }
    }

    [Fact]
    public async Task Stall_mode_sends_the_headers_then_trickles_the_body_so_a_client_times_out()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.Stall });

        using (HttpClient impatient = Client(cloud, TimeSpan.FromSeconds(2)))
        {
            TaskCanceledException timedOut = await Assert.ThrowsAsync<TaskCanceledException>(() => impatient.GetStringAsync(cloud.UrlOf(Document)));
            Assert.IsType<TimeoutException>(timedOut.InnerException);
        }

        using HttpClient client = Client(cloud);
        using HttpResponseMessage response = await client.GetAsync(cloud.UrlOf(Document), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Encoding.UTF8.GetByteCount(DocumentText), response.Content.Headers.ContentLength);
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => response.Content.ReadAsStringAsync(reading.Token));
    }

    [Fact]
    public async Task Trickle_mode_holds_back_even_the_status_line()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.Trickle });
        using HttpClient impatient = Client(cloud, TimeSpan.FromSeconds(2));

        await Assert.ThrowsAsync<TaskCanceledException>(() => impatient.GetAsync(cloud.UrlOf(Document), HttpCompletionOption.ResponseHeadersRead));
    }

    [Fact]
    public async Task Truncated_mode_promises_the_whole_length_and_the_body_ends_early()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.Truncated });
        using HttpClient client = Client(cloud);

        using HttpResponseMessage response = await client.GetAsync(cloud.UrlOf(Document), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Encoding.UTF8.GetByteCount(DocumentText), response.Content.Headers.ContentLength);
        // Read as a stream, the end shows as it is: an IOException.
        using Stream body = await response.Content.ReadAsStreamAsync();
        HttpIOException ended = await Assert.ThrowsAsync<HttpIOException>(() => body.CopyToAsync(Stream.Null));
        Assert.Equal(HttpRequestError.ResponseEnded, ended.HttpRequestError);

        // Buffered (GetAsync's default, ReadAsStringAsync, ReadAsByteArrayAsync), it comes wrapped.
        HttpRequestException buffered = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(cloud.UrlOf(Document)));
        Assert.Equal(HttpRequestError.ResponseEnded, Assert.IsType<HttpIOException>(buffered.InnerException).HttpRequestError);
    }

    [Fact]
    public async Task RedirectToHttp_mode_answers_302_to_the_same_path_on_plain_http()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.RedirectToHttp });
        using HttpClient client = Client(cloud);

        using HttpResponseMessage response = await client.GetAsync(cloud.UrlOf(Document));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Uri location = response.Headers.Location!;
        Assert.Equal(new Uri(cloud.HttpBaseUrl, Document), location);
        // The downgrade leads somewhere real: a client that followed it would get the document.
        using var plain = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        Assert.Equal(DocumentText, await plain.GetStringAsync(location));
    }

    [Fact]
    public async Task RedirectToHttps_mode_answers_302_to_another_path_of_the_same_server_that_serves_the_document()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.RedirectToHttps });
        using HttpClient client = Client(cloud);

        using HttpResponseMessage response = await client.GetAsync(cloud.UrlOf(Document));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(cloud.UrlOf("moved/" + Document), response.Headers.Location);
        using HttpResponseMessage followed = await client.GetAsync(response.Headers.Location);
        Assert.Equal(HttpStatusCode.OK, followed.StatusCode);
        Assert.Equal(DocumentText, await followed.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Dotnet_drops_the_bearer_token_when_it_follows_a_redirect_itself_so_the_cloud_answers_401()
    {
        await using NginxServer cloud = await StartAsync(new() { Mode = NginxMode.RedirectToHttps, DeviceToken = Token });
        SocketsHttpHandler handler = cloud.CertificateAuthority.CreateTrustingHandler();
        handler.AllowAutoRedirect = true;
        using var client = new HttpClient(handler);

        using HttpResponseMessage response = await SendAsync(client, cloud.UrlOf(Document), Token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(cloud.UrlOf("moved/" + Document), response.RequestMessage!.RequestUri);
    }

    [Fact]
    public async Task Stop_makes_connections_fail_and_StartAgain_serves_on_the_same_port()
    {
        await using NginxServer cloud = await StartAsync();
        using HttpClient client = Client(cloud);
        using (HttpResponseMessage before = await client.GetAsync(cloud.UrlOf(Document)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        int port = cloud.Port;
        await cloud.StopAsync();

        Assert.False(cloud.IsRunning);
        HttpRequestException refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(cloud.UrlOf(Document)));
        Assert.Equal(SocketError.ConnectionRefused, Assert.IsType<SocketException>(refused.InnerException).SocketErrorCode);

        await cloud.StartAgainAsync();
        Assert.Equal(port, cloud.Port);
        using HttpResponseMessage after = await client.GetAsync(cloud.UrlOf(Document));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task The_report_sink_answers_204_and_records_the_body_and_the_token_whatever_the_mode()
    {
        await using NginxServer cloud = await StartAsync(new() { DeviceToken = Token, Mode = NginxMode.Status500 });
        using HttpClient client = Client(cloud);
        const string report = "{\"device\":\"er-0001\",\"error\":\"fetch \\\"failed\\\"\",\"note\":\"ünïcødé\\n\"}";

        using var post = new HttpRequestMessage(HttpMethod.Post, cloud.ReportUrl)
        {
            Content = new StringContent(report, Encoding.UTF8, "application/json"),
        };
        post.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage accepted = await client.SendAsync(post);
        using HttpResponseMessage refused = await client.PostAsync(cloud.ReportUrl, new StringContent("{}"));

        Assert.Equal(HttpStatusCode.NoContent, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal([report], await cloud.WaitForReportBodiesAsync(1, TimeSpan.FromSeconds(10)));
        RecordedReport recorded = cloud.Reports().First(r => r.Status == 204);
        Assert.Equal("Bearer " + Token, recorded.Authorization);
        Assert.Equal("POST", recorded.Method);
        Assert.StartsWith("application/json", recorded.ContentType, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_trusts_another_CA_fails_the_TLS_handshake()
    {
        await using NginxServer cloud = await StartAsync();
        using var other = TestCertificateAuthority.Create("Unrelated CA");
        using var client = new HttpClient(other.CreateTrustingHandler());

        HttpRequestException refused = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(cloud.UrlOf(Document)));

        Assert.Equal(HttpRequestError.SecureConnectionError, refused.HttpRequestError);
        Assert.IsType<AuthenticationException>(refused.InnerException);
    }

    [Fact]
    public async Task The_certificate_names_localhost_too()
    {
        await using NginxServer cloud = await StartAsync();
        using HttpClient client = Client(cloud);

        string body = await client.GetStringAsync(new Uri($"https://localhost:{cloud.Port}/{Document}"));

        Assert.Equal(DocumentText, body);
    }

    private static async Task<NginxServer> StartAsync(NginxServerOptions? options = null)
    {
        NginxServer cloud = await NginxServer.StartAsync(options);
        cloud.WriteDocument(Document, DocumentText);
        return cloud;
    }

    private static HttpClient Client(NginxServer cloud, TimeSpan? timeout = null) =>
        new(cloud.CertificateAuthority.CreateTrustingHandler()) { Timeout = timeout ?? TimeSpan.FromSeconds(30) };

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, Uri url, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client.SendAsync(request);
    }
}

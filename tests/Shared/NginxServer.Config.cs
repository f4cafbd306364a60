using System.Globalization;
using System.Text;

namespace EdgeRelay.Tests.Shared;

// The configuration files. nginx.conf is written at each start (it holds the ports); the three
// included files are what a reload changes: the mode (inside "location /"), the bearer token (a map in
// the http block), and the generation that tells the fixture a reload has taken effect.
internal sealed partial class NginxServer
{
    private const string ModeFile = "mode.conf";
    private const string AuthFile = "auth.conf";
    private const string GenerationFile = "generation.conf";
    private const string GenerationPath = "/__fixture/generation";
    private const string ReportSinkPath = "/__fixture/report";

    private static readonly (string Extension, string ContentType)[] ContentTypes =
    [
        ("json", "application/json"),
        ("txt", "text/plain"),
        ("html", "text/html"),
        ("pem", "application/x-pem-file"),
        ("sig", "application/octet-stream"),
    ];

    /// <summary>The Content-Type nginx gives a document (application/octet-stream for unknown extensions).</summary>
    public static string ContentTypeOf(string path)
    {
        string extension = Path.GetExtension(path).TrimStart('.');
        foreach ((string known, string contentType) in ContentTypes)
        {
            if (string.Equals(known, extension, StringComparison.OrdinalIgnoreCase))
            {
                return contentType;
            }
        }

        return "application/octet-stream";
    }

    private void WriteMainConfig()
    {
        var types = new StringBuilder();
        foreach ((string extension, string contentType) in ContentTypes)
        {
            types.Append(CultureInfo.InvariantCulture, $" {contentType} {extension};");
        }

        string InPrefix(string name) => Quote(Path.Combine(_prefix, name));
        string config = string.Create(CultureInfo.InvariantCulture, $$"""
            # EdgeRelay test fixture (tests/Shared/NginxServer.cs): "the cloud" on loopback.
            daemon off;
            master_process on;
            worker_processes 1;
            {{(NginxProcesses.IsRoot ? "user root;  # the prefix directory is 0700 and root's own" : "")}}
            pid {{InPrefix(PidFileName)}};
            error_log {{InPrefix("logs/error.log")}} notice;
            # Old workers drop what they still serve (a stalled body) soon after a reload or stop.
            worker_shutdown_timeout 5s;

            events {
                worker_connections 256;
            }

            http {
                types {{{types}} }
                default_type application/octet-stream;
                server_tokens off;
                sendfile on;
                keepalive_timeout 30s;
                client_body_temp_path {{InPrefix("temp/client_body")}};
                proxy_temp_path {{InPrefix("temp/proxy")}};
                fastcgi_temp_path {{InPrefix("temp/fastcgi")}};
                uwsgi_temp_path {{InPrefix("temp/uwsgi")}};
                scgi_temp_path {{InPrefix("temp/scgi")}};
                access_log {{InPrefix("logs/access.log")}};
                log_format edgerelay_report escape=json
                    '{"status":"$status","method":"$request_method","authorization":"$http_authorization",'
                    '"contentType":"$content_type","body":"$request_body"}';

                include {{InPrefix(AuthFile)}};

                # "The cloud": TLS from the test CA.
                server {
                    listen 127.0.0.1:{{Port}} ssl;
                    ssl_certificate {{Quote(_certificate.ChainPath)}};
                    ssl_certificate_key {{Quote(_certificate.KeyPath)}};
                    ssl_protocols TLSv1.2 TLSv1.3;
                    root {{Quote(DocumentDirectory)}};

                    # The bearer check (auth.conf): server-level, so it covers every location below.
                    add_header WWW-Authenticate $edgerelay_challenge always;
                    if ($edgerelay_authorized = 0) {
                        return 401;
                    }

                    location / {
                        include {{InPrefix(ModeFile)}};
                    }

                    # Release binaries (over-the-air updates), at ReleaseBytesPerSecond when set: slow enough that a
                    # test can cut the power in the middle of a download.
                    location /releases/ {
                        include {{InPrefix(ModeFile)}};
                        {{(_releaseBytesPerSecond is int rate ? string.Create(CultureInfo.InvariantCulture, $"limit_rate {rate};") : "")}}
                    }

                    # Where RedirectToHttps points: the same files, whatever the mode.
                    location /moved/ {
                        alias {{Quote(DocumentDirectory + "/")}};
                    }

                    # The report sink. $request_body is only set where a proxy_pass has read the body
                    # (into one memory buffer, hence the sizes); "return 204" here would discard it.
                    location = /report {
                        access_log {{InPrefix(ReportLogFileName)}} edgerelay_report;
                        client_max_body_size 1m;
                        client_body_buffer_size 1m;
                        client_body_in_single_buffer on;
                        proxy_pass http://127.0.0.1:{{HttpPort}}{{ReportSinkPath}};
                    }
                }

                # Plain HTTP, for the fixture itself (reload generation, report sink) and as the
                # target of RedirectToHttp, where it would serve the document to a client that followed.
                server {
                    listen 127.0.0.1:{{HttpPort}};
                    root {{Quote(DocumentDirectory)}};
                    location = {{GenerationPath}} {
                        default_type text/plain;
                        include {{InPrefix(GenerationFile)}};
                    }
                    location = {{ReportSinkPath}} {
                        return 204;
                    }
                }
            }

            """);
        File.WriteAllText(Path.Combine(_prefix, ConfigFileName), config);
    }

    /// <summary>The files a reload changes. The generation goes last, so seeing it means the rest is in.</summary>
    private void WriteIncludedConfig()
    {
        File.WriteAllText(Path.Combine(_prefix, ModeFile), $"# mode {Mode}\n{ModeDirectives(Mode)}\n");

        string authorized = DeviceToken is null
            ? "    default 1;\n"
            : $"    default 0;\n    \"Bearer {DeviceToken}\" 1;\n";
        File.WriteAllText(Path.Combine(_prefix, AuthFile), $$"""
            map $http_authorization $edgerelay_authorized {
            {{authorized}}}
            map $edgerelay_authorized $edgerelay_challenge {
                0 'Bearer realm="edgerelay-test"';
                default "";
            }

            """);

        File.WriteAllText(Path.Combine(_prefix, GenerationFile),
            $"return 200 \"{GenerationMarker}\\n\";\n");
    }

    private string ModeDirectives(NginxMode mode) => mode switch
    {
        NginxMode.Serve => "",
        NginxMode.Status500 => "return 500;",
        NginxMode.Trickle => "limit_rate 1;",
        NginxMode.Stall => ProxyToUpstream(MisbehavingUpstream.Stall),
        NginxMode.Truncated => ProxyToUpstream(MisbehavingUpstream.Truncate),
        NginxMode.RedirectToHttp => string.Create(CultureInfo.InvariantCulture, $"return 302 http://$host:{HttpPort}$request_uri;"),
        NginxMode.RedirectToHttps => "return 302 https://$host:$server_port/moved$request_uri;",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    // Unbuffered, so what the upstream sends (and when) is what the client gets; a long read timeout so
    // nginx itself does not end a stall.
    private string ProxyToUpstream(string behaviour) => string.Create(CultureInfo.InvariantCulture, $"""
        proxy_pass http://127.0.0.1:{_upstream.Port};
        proxy_set_header {MisbehavingUpstream.BehaviourHeader} {behaviour};
        proxy_buffering off;
        proxy_read_timeout 1h;
        """);

    private static string Quote(string path) => "\"" + path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

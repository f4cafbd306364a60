namespace EdgeRelay.Tests.Shared;

/// <summary>
/// One request to <c>POST /report</c> as nginx logged it: the status it answered (204, or 401 when the
/// bearer token was wrong), the Authorization and Content-Type headers as sent (null when absent), and the
/// body as text.
/// </summary>
internal sealed record RecordedReport(int Status, string Method, string? Authorization, string? ContentType, string Body);

using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// A TURN REST API credential (draft-uberti-behave-turn-rest, coturn's use-auth-secret), made the way a
/// web service makes one for a browser: user name <c>EXPIRY_UNIX_SECONDS:NAME</c>, password
/// <c>base64(HMAC-SHA1(secret, username))</c>.
/// </summary>
public static class TurnRestCredential
{
    public static (string Username, string Password) Create(string secret, string? name, DateTimeOffset now, TimeSpan validity)
    {
        string expiry = (now + validity).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string username = string.IsNullOrEmpty(name) ? expiry : $"{expiry}:{name}";
        byte[] mac = HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username));
        return (username, Convert.ToBase64String(mac));
    }
}

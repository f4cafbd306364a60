using System.Text.Json;

namespace EdgeRelay.Configuration;

/// <summary>
/// One JSON object of the configuration, with its path for error messages ("listeners[1].endpoint"),
/// and the keys it may hold: any other key is an error that names it.
/// </summary>
internal readonly struct JsonSection
{
    private readonly JsonElement _element;

    public JsonSection(JsonElement element, string path, params string[] knownKeys)
    {
        Path = path;
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ConfigurationException($"{Describe(path)}: expected an object, found {Kind(element)}");
        }
        _element = element;
        foreach (JsonProperty property in element.EnumerateObject())
        {
            if (Array.IndexOf(knownKeys, property.Name) < 0)
            {
                throw new ConfigurationException(
                    $"{Join(path, property.Name)}: unknown key (expected one of: {string.Join(", ", knownKeys)})");
            }
        }
    }

    public string Path { get; }

    public string PathOf(string key) => Join(Path, key);

    public bool TryGet(string key, out JsonElement value)
    {
        if (_element.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }
        value = default;
        return false;
    }

    public string? GetString(string key)
    {
        if (!TryGet(key, out JsonElement value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid(key, value, "a string");
        }
        return value.GetString();
    }

    public bool? GetBoolean(string key)
    {
        if (!TryGet(key, out JsonElement value))
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(key, value, "true or false"),
        };
    }

    public int? GetInt32(string key, int min, int max) => (int?)GetInt64(key, min, max);

    public long? GetInt64(string key, long min, long max)
    {
        if (!TryGet(key, out JsonElement value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long number) || number < min || number > max)
        {
            throw Invalid(key, value, $"a whole number from {min} to {max}");
        }
        return number;
    }

    public JsonElement? GetArray(string key)
    {
        if (!TryGet(key, out JsonElement value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Invalid(key, value, "an array");
        }
        return value;
    }

    public IReadOnlyList<string> GetStringArray(string key)
    {
        if (GetArray(key) is not JsonElement array)
        {
            return [];
        }
        var result = new List<string>();
        int index = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                throw new ConfigurationException($"{PathOf(key)}[{index}]: {Show(item)} is not valid: expected a string");
            }
            result.Add(item.GetString()!);
            index++;
        }
        return result;
    }

    public ConfigurationException Invalid(string key, JsonElement value, string expected) =>
        new($"{PathOf(key)}: {Show(value)} is not valid: expected {expected}");

    public ConfigurationException Invalid(string key, string value, string expected) =>
        new($"{PathOf(key)}: \"{value}\" is not valid: expected {expected}");

    public static string Show(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"\"{value.GetString()}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        _ => value.GetRawText(),
    };

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static string Describe(string path) => path.Length == 0 ? "configuration" : path;
}

using System.Text.Json;

namespace Orleans.Embeddings.Cli.Models;

/// <summary>
/// Reads the texts of a corpus file: JSON lines in the document-change format (their "content"), or plain
/// text, one document per line.
/// </summary>
internal static class CorpusReader
{
    public static IEnumerable<string> ReadTexts(string path)
    {
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            if (!line.StartsWith('{'))
            {
                yield return line;
                continue;
            }

            string? content;
            try
            {
                using var document = JsonDocument.Parse(line);
                content = document.RootElement.TryGetProperty("content", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{path}:{lineNumber} is not valid JSON: {ex.Message}", ex);
            }

            if (content is not null)
            {
                yield return content;
            }
        }
    }
}

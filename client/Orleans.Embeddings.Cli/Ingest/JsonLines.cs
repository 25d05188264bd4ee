using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace Orleans.Embeddings.Cli.Ingest;

/// <summary>Splits a stream into lines of raw bytes (without the '\n' or a trailing '\r').</summary>
internal static class JsonLines
{
    public static async IAsyncEnumerable<byte[]> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 1 << 16));
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            while (buffer.PositionOf((byte)'\n') is { } end)
            {
                yield return Trim(buffer.Slice(0, end));
                buffer = buffer.Slice(buffer.GetPosition(1, end));
            }

            if (result.IsCompleted)
            {
                if (!buffer.IsEmpty)
                {
                    yield return Trim(buffer);
                }

                break;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }

        await reader.CompleteAsync();
    }

    private static byte[] Trim(ReadOnlySequence<byte> line)
    {
        var bytes = line.ToArray();
        return bytes.Length > 0 && bytes[^1] == (byte)'\r' ? bytes[..^1] : bytes;
    }
}

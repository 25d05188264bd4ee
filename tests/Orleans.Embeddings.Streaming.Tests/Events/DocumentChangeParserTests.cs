using System.Text;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Events;

namespace Orleans.Embeddings.Streaming.Tests.Events;

public sealed class DocumentChangeParserTests
{
    private readonly DocumentChangeParser _parser = new(new DocumentChangeLimits { MaxIdBytes = 16, MaxContentBytes = 32, MaxMetadataBytes = 32 });

    [Fact]
    public void Parse_Upsert_ReadsEveryField()
    {
        var result = Parse("""{"collection":"docs","id":"a-1","op":"upsert","seq":42,"content":"héllo","metadata":{"tag":"x"},"extra":true}""");

        Assert.Equal(new DocumentChange("docs", "a-1", DocumentOperation.Upsert, 42, "héllo", """{"tag":"x"}"""), result.Change);
    }

    [Fact]
    public void Parse_DeleteWithoutSeq_LeavesSeqToTheLogPosition()
    {
        var result = Parse("""{"collection":"docs","id":"a-1","op":"delete"}""");

        Assert.Equal(new DocumentChange("docs", "a-1", DocumentOperation.Delete, null, null, "{}"), result.Change);
    }

    [Theory]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"x" """, "not valid JSON")]
    [InlineData("""[1,2]""", "must be a JSON object, not Array")]
    [InlineData("""{"id":"a","op":"upsert","content":"x"}""", "\"collection\" is missing")]
    [InlineData("""{"collection":"Docs!","id":"a","op":"upsert","content":"x"}""", "Invalid collection name 'Docs!'")]
    [InlineData("""{"collection":"docs","op":"upsert","content":"x"}""", "\"id\" is missing")]
    [InlineData("""{"collection":"docs","id":"","op":"upsert","content":"x"}""", "\"id\" is missing, empty")]
    [InlineData("""{"collection":"docs","id":"a-very-long-document-id","op":"upsert","content":"x"}""", "\"id\" is longer than 16 bytes")]
    [InlineData("""{"collection":"docs","id":"a","op":"replace","content":"x"}""", "\"op\" must be \"upsert\" or \"delete\" (was \"replace\")")]
    [InlineData("""{"collection":"docs","id":"a","content":"x"}""", "(was missing)")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","seq":-1,"content":"x"}""", "\"seq\" must be a non-negative integer (was -1)")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","seq":"7","content":"x"}""", "\"seq\" must be a non-negative integer")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert"}""", "an upsert needs \"content\"")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"this content is longer than thirty-two bytes"}""", "\"content\" is larger than 32 bytes")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"x","metadata":[1]}""", "\"metadata\" must be a JSON object, not Array")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"x","metadata":{"k":"a value longer than the limit"}}""", "\"metadata\" is larger than 32 bytes")]
    [InlineData("""{"collection":"docs","id":"a\u0000","op":"upsert","content":"x"}""", "\"id\" contains NUL")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"x\u0000y"}""", "\"content\" contains NUL")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"x","metadata":{"k":["\u0000"]}}""", "\"metadata\" holds a NUL")]
    [InlineData("""{"collection":"docs","id":"a","op":"upsert","content":"x","metadata":{"\u0000":1}}""", "\"metadata\" holds a NUL")]
    public void Parse_BadEvent_ReturnsAReasonNamingWhatIsWrong(string json, string reason)
    {
        var result = Parse(json);

        Assert.False(result.Succeeded);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidUtf8_ReturnsAReason()
    {
        byte[] bytes = [.. Encoding.UTF8.GetBytes("{\"collection\":\"docs\",\"id\":\""), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\",\"op\":\"delete\"}")];

        var result = _parser.Parse(bytes);

        Assert.Equal("the event is not valid UTF-8", result.Error);
    }

    private DocumentChangeParseResult Parse(string json) => _parser.Parse(Encoding.UTF8.GetBytes(json));
}

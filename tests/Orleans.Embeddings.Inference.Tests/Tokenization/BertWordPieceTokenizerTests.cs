using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Tests.Reference;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Tests.Tokenization;

/// <summary>
/// Hugging Face's BERT tokenization: behaviour on a small vocabulary written here, and ids on the trained
/// all-MiniLM-L6-v2 vocabulary as Transformers.js gives them (node Reference/reference.mjs tokenize).
/// </summary>
public sealed class BertWordPieceTokenizerTests
{
    // Ids are indexes: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, then the words and pieces.
    private static readonly string[] s_vocabulary =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "web", "server", "un", "##aff", "##able", "c", "+", "$", "=", "|", "~", "^", "`", "°", "©", "cafe", "中", "文", "foo", "##bar", ".", "a", "[", "]"];

    [Theory]
    [InlineData("web server", new[] { "web", "server" })]
    [InlineData("Web\tSERVER", new[] { "web", "server" })]
    [InlineData("web\nserver\r\nweb\rserver", new[] { "web", "server", "web", "server" })]
    [InlineData("unaffable", new[] { "un", "##aff", "##able" })]
    [InlineData("C++", new[] { "c", "+", "+" })]
    [InlineData("$+=|~^`", new[] { "$", "+", "=", "|", "~", "^", "`" })]
    [InlineData("° ©", new[] { "°", "©" })]
    [InlineData("°C", new[] { "[UNK]" })]
    [InlineData("Café", new[] { "cafe" })]
    [InlineData("cafe\u0301", new[] { "cafe" })]
    [InlineData("中文", new[] { "中", "文" })]
    [InlineData("foo\u0000bar foo\u200bbar foo\u0007bar", new[] { "foo", "##bar", "foo", "##bar", "foo", "##bar" })]
    [InlineData("web\u00a0server\u3000web", new[] { "web", "server", "web" })]
    [InlineData("😀 web", new[] { "[UNK]", "web" })]
    [InlineData("webx", new[] { "[UNK]" })]
    [InlineData("a[SEP]web [sep]", new[] { "a", "[SEP]", "web", "[", "[UNK]", "]" })]
    [InlineData("", new string[0])]
    [InlineData(" \t\r\n ", new string[0])]
    public void Tokenize_Text_GivesHuggingFacePieces(string text, string[] pieces)
    {
        var tokenizer = new BertWordPieceTokenizer(s_vocabulary, lowerCase: true, stripAccents: true, maxTokens: 64);

        var tokens = tokenizer.Tokenize(text);

        Assert.Equal(["[CLS]", .. pieces, "[SEP]"], tokens.Ids.Select(id => s_vocabulary[id]));
        Assert.False(tokens.Truncated);
    }

    [Fact]
    public void Tokenize_WordOfMoreThanAHundredCharacters_IsOneUnknown()
    {
        var vocabulary = s_vocabulary.Append("##a").ToArray();
        var tokenizer = new BertWordPieceTokenizer(vocabulary, lowerCase: true, stripAccents: true, maxTokens: 512);

        Assert.Equal(102, tokenizer.Tokenize(new string('a', 100)).Ids.Length);
        Assert.Equal([2, 1, 3], tokenizer.Tokenize(new string('a', 101)).Ids);
        Assert.Equal([2, 1, 3], tokenizer.Tokenize(new string('a', 10_000)).Ids);
        // Characters are code points after normalisation: 100 accented letters are 100, not 200.
        Assert.Equal(102, tokenizer.Tokenize(string.Concat(Enumerable.Repeat("a\u0301", 100))).Ids.Length);
    }

    [Fact]
    public void Tokenize_LongerThanTheLimit_KeepsClsAndSepAndReportsTruncation()
    {
        var tokenizer = new BertWordPieceTokenizer(s_vocabulary, lowerCase: true, stripAccents: true, maxTokens: 5);

        var cut = tokenizer.Tokenize("web server web server");
        var fits = tokenizer.Tokenize("web server web");

        Assert.Equal(["[CLS]", "web", "server", "web", "[SEP]"], cut.Ids.Select(id => s_vocabulary[id]));
        Assert.True(cut.Truncated);
        Assert.Equal(cut.Ids, fits.Ids);
        Assert.False(fits.Truncated);
        // A word whose pieces cross the limit is cut between its pieces.
        Assert.Equal(["[CLS]", "web", "un", "##aff", "[SEP]"], tokenizer.Tokenize("web unaffable").Ids.Select(id => s_vocabulary[id]));
    }

    [Fact]
    public void Tokenize_Cased_KeepsCaseAndAccents()
    {
        string[] vocabulary = [.. s_vocabulary, "Web", "Café"];
        var tokenizer = new BertWordPieceTokenizer(vocabulary, lowerCase: false, stripAccents: false, maxTokens: 64);

        Assert.Equal(["[CLS]", "Web", "Café", "[UNK]", "[SEP]"], tokenizer.Tokenize("Web Café cafe\u0301").Ids.Select(id => vocabulary[id]));
    }

    [Fact]
    public void Create_VocabularyWithoutClsSepOrUnk_NamesTheMissingToken()
    {
        var error = Assert.Throws<ModelFolderException>(() => new BertWordPieceTokenizer(["[PAD]", "[CLS]", "[SEP]", "web"], true, true, 16));

        Assert.Contains("no [UNK] token", error.Message, StringComparison.Ordinal);
    }

    // Expected ids: Transformers.js 4.3.2 on all-MiniLM-L6-v2's tokenizer (the reference test compares the whole corpus).
    [Theory]
    [InlineData("C++", new[] { 101, 1039, 1009, 1009, 102 })]
    [InlineData("Gtk+ toolkit.", new[] { 101, 14181, 2243, 1009, 6994, 23615, 1012, 102 })]
    [InlineData("$ + = < > | ~ ^ ` ° ©", new[] { 101, 1002, 1009, 1027, 1026, 1028, 1064, 1066, 1034, 1036, 1080, 1075, 102 })]
    [InlineData("line one\nline two\ttabbed\r\nend", new[] { 101, 2240, 2028, 2240, 2048, 21628, 8270, 2203, 102 })]
    [InlineData("emoji 😀 here", new[] { 101, 7861, 29147, 2072, 100, 2182, 102 })]
    [InlineData("中文 text", new[] { 101, 1746, 1861, 3793, 102 })]
    [InlineData("Café crème brûlée", new[] { 101, 7668, 13675, 21382, 7987, 9307, 2063, 102 })]
    [InlineData("e\u0301 combining", new[] { 101, 1041, 11566, 102 })]
    [InlineData("zero\u200bwidth", new[] { 101, 5717, 9148, 11927, 2232, 102 })]
    [InlineData("a\u0000b", new[] { 101, 11113, 102 })]
    [InlineData("[SEP] inside", new[] { 101, 102, 2503, 102 })]
    public void Tokenize_MiniLmVocabulary_GivesTransformersJsIds(string text, int[] expected)
    {
        var tokenizer = TextTokenizer.Create(TrainedModelFolders.MiniLm());

        Assert.Equal(expected, tokenizer.Tokenize(text).Ids);
    }

    [Fact]
    public void Create_LegacyRevision_KeepsMlTokenizersBehaviour()
    {
        var folder = TrainedModelFolders.MiniLm();

        var legacy = TextTokenizer.Create(folder.RegisteredWith(TokenizerRevision.MlTokenizersBert20));
        var exact = TextTokenizer.Create(folder.RegisteredWith(TokenizerRevision.BertHf));

        Assert.IsType<MlTokenizersBertTokenizer>(legacy);
        Assert.IsType<BertWordPieceTokenizer>(exact);
        // ML.Tokenizers 2.0 drops '+' (dotnet/machinelearning#7725): the legacy revision still does, for the tables embedded with it.
        Assert.Equal([101, 1039, 102], legacy.Tokenize("C++").Ids);
        Assert.Equal(TokenizerRevision.BertHf, folder.TokenizerRevision);
    }
}

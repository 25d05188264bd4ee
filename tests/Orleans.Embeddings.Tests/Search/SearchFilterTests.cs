using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Tests.Search;

public sealed class SearchFilterTests
{
    [Theory]
    [InlineData("section=net", SearchFilterKind.Equal, "\"net\"", null, null)]
    [InlineData("title=a=b", SearchFilterKind.Equal, "\"a=b\"", null, null)]
    [InlineData("section=", SearchFilterKind.Equal, "\"\"", null, null)]
    [InlineData("year:=2024", SearchFilterKind.Equal, "2024", null, null)]
    [InlineData("draft:=false", SearchFilterKind.Equal, "false", null, null)]
    [InlineData("owner:=null", SearchFilterKind.Equal, "null", null, null)]
    [InlineData("tag:=[\"a\",2]", SearchFilterKind.In, "[\"a\",2]", null, null)]
    [InlineData("size>=1.5", SearchFilterKind.Range, null, 1.5, null)]
    [InlineData("size<=-3", SearchFilterKind.Range, null, null, -3.0)]
    public void The_text_form_parses(string text, SearchFilterKind kind, string? json, double? min, double? max)
    {
        var filter = SearchFilter.Parse(text);
        Assert.Equal(kind, filter.Kind);
        Assert.Equal(json, filter.ValueJson);
        Assert.Equal(min, filter.Min);
        Assert.Equal(max, filter.Max);
    }

    [Theory]
    [InlineData("section", "is not field=text")]
    [InlineData("=net", "is not field=text")]
    [InlineData("size>5", "is not field=text")]
    [InlineData("size>=big", "'big' is not a number")]
    [InlineData("size<=NaN", "'NaN' is not a number")]
    [InlineData("year:=20 24", "is not JSON")]
    [InlineData("tag:=[]", "needs at least one value")]
    public void A_malformed_filter_is_refused_naming_what_is_wrong(string text, string message)
    {
        var error = Assert.Throws<FormatException>(() => SearchFilter.Parse(text));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
    }
}

public sealed class RankOverlapTests
{
    [Fact]
    public void Overlap_and_rbo_are_one_for_the_same_list_and_zero_for_disjoint_ones()
    {
        string[] a = ["a", "b", "c", "d"];
        Assert.Equal(1.0, RankOverlap.OverlapAt(a, a, 4));
        Assert.Equal(1.0, RankOverlap.Rbo(a, a, 4), 12);
        Assert.Equal(0.0, RankOverlap.OverlapAt(a, ["w", "x", "y", "z"], 4));
        Assert.Equal(0.0, RankOverlap.Rbo(a, ["w", "x", "y", "z"], 4));
        Assert.Equal(0.5, RankOverlap.OverlapAt(a, ["b", "a", "y", "z"], 4));

        // Agreement at the top weighs more than agreement at the bottom.
        var top = RankOverlap.Rbo(a, ["a", "b", "y", "z"], 4);
        var bottom = RankOverlap.Rbo(a, ["w", "x", "c", "d"], 4);
        Assert.True(top > bottom, $"{top} vs {bottom}");
        Assert.Equal(1.0, RankOverlap.Rbo(a, ["b", "a", "d", "c"], 4) > 0.8 ? 1.0 : 0.0);
    }
}

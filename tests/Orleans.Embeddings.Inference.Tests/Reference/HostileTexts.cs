namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>Texts that BERT tokenizers get wrong in different ways.</summary>
internal static class HostileTexts
{
    public static readonly string[] All =
    [
        "",
        " ",
        "\t\n\r\n  \u00a0\u3000",
        "C++",
        "Gtk+ toolkit.",
        "$ + = < > | ~ ^ ` ° ©",
        "a$b+c=d<e>f|g~h^i`j°k©l",
        "price: $5 (~10%) <b>bold</b> a|b x^2 `code` 20°C © 2024",
        "line one\nline two\ttabbed\r\nwindows\rmac",
        "words\u0000joined\u0007by\u001bcontrols\u007fand\u0085next",
        "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060joiner",
        "replacement \ufffd char and private \ue000 use",
        "emoji 😀 🎉👍🏽 family 👨‍👩‍👧 flags 🇫🇷",
        "中文字符 and 日本語のテキスト and 한국어 텍스트",
        "Café crème brûlée naïve résumé Ångström Øresund ŁÓDŹ",
        "combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323",
        "ＦＵＬＬ　ＷＩＤＴＨ ｆｕｌｌ ｗｉｄｔｈ １２３",
        "Straße İstanbul ﬁ ligature ß",
        "ΑΘΗΝΑ αθήνα Москва москва",
        "«quotes» “curly” ‘single’ — dash – en… ellipsis ¿qué? ¡sí!",
        "math ≤ ≥ ≠ ± × ÷ ∞ √ ∑ → ⇒",
        "[CLS] [SEP] [UNK] [MASK] [PAD] inline [cls] special tokens[SEP]x",
        "http://example.com/path?query=1&b=2#frag user@example.org",
        "snake_case kebab-case CamelCase dotted.name v1.2.3 3.14159 1,000,000",
        new string('a', 100),
        new string('a', 101),
        new string('x', 10_000),
        string.Concat(Enumerable.Repeat("word ", 600)),
        string.Concat(Enumerable.Repeat("é", 150)),
        "unassigned \U000E0001 tag and \U0001F9FF amulet",
    ];
}

using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Orleans.Embeddings.Silo.Tests.Console;

/// <summary>
/// Debian's Chromium, headless, driven through Debian's chromedriver with Selenium WebDriver. Both are installed by
/// <c>infra/test.sh</c> (packages chromium and chromium-driver); when either is missing the test fails and says so.
/// </summary>
internal sealed class HeadlessChromium : IDisposable
{
    private readonly string _profile;

    private HeadlessChromium(ChromeDriver driver, string profile)
    {
        Driver = driver;
        _profile = profile;
    }

    /// <summary>The browser.</summary>
    public ChromeDriver Driver { get; }

    /// <summary>Starts a browser with an empty profile and a window large enough for the whole console.</summary>
    public static HeadlessChromium Start()
    {
        var browser = Environment.GetEnvironmentVariable("EMBEDDINGS_CHROMIUM") ?? "/usr/bin/chromium";
        var driver = Environment.GetEnvironmentVariable("EMBEDDINGS_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
        foreach (var (path, package) in new[] { (browser, "chromium"), (driver, "chromium-driver") })
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException(
                    $"{path} is missing: the console is tested in Debian's Chromium. Install it with `apt-get install -y chromium chromium-driver` (infra/test.sh does).");
            }
        }

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var profile = Directory.CreateTempSubdirectory("oe-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = browser };
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        options.AddArguments(
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
            "--window-size=1400,2000", "--force-device-scale-factor=1", "--lang=en-GB", $"--user-data-dir={profile}");
        return new HeadlessChromium(new ChromeDriver(service, options, TimeSpan.FromSeconds(60)), profile);
    }

    /// <summary>The element with that id.</summary>
    public IWebElement ById(string id) => Driver.FindElement(By.Id(id));

    /// <summary>Runs a script in the page and returns its value.</summary>
    public object? Script(string script, params object[] arguments) => Driver.ExecuteScript(script, arguments);

    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds; fails with <paramref name="describe"/> and the page's message after <paramref name="timeout"/>.</summary>
    public async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Holds(condition))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{describe()} (after {timeout}; the page's message: '{Script("return document.getElementById('message')?.textContent ?? ''")}')");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>What the page wrote to the browser's console since the last call (errors, CSP violations).</summary>
    public IReadOnlyList<string> ConsoleMessages() => [.. Driver.Manage().Logs.GetLog(LogType.Browser).Select(e => $"{e.Level}: {e.Message}")];

    /// <summary>Saves a screenshot of the window as PNG.</summary>
    public void Screenshot(string path) => Driver.GetScreenshot().SaveAsFile(path);

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        Directory.Delete(_profile, recursive: true);
    }

    // A page that re-renders replaces the elements a condition reads: try again rather than fail.
    private static bool Holds(Func<bool> condition)
    {
        try
        {
            return condition();
        }
        catch (StaleElementReferenceException)
        {
            return false;
        }
        catch (NoSuchElementException)
        {
            return false;
        }
    }
}

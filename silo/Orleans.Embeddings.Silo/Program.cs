using Microsoft.Extensions.Options;
using Orleans.Embeddings.Silo;

try
{
    var app = SiloApplication.Build(args);
    await app.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (OptionsValidationException ex)
{
    // A setting the operator can fix: say which, without a stack trace.
    await Console.Error.WriteLineAsync("The silo's configuration is invalid:").ConfigureAwait(false);
    foreach (var failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync($"  - {failure}").ConfigureAwait(false);
    }

    return 2;
}

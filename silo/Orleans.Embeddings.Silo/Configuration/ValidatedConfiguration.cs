using Microsoft.Extensions.Options;

namespace Orleans.Embeddings.Silo.Configuration;

/// <summary>
/// Reads an options section eagerly and validates it, for the settings the silo needs while it is
/// still being built (which clustering, which connection string), before the options system runs.
/// </summary>
public static class ValidatedConfiguration
{
    /// <summary>Binds <paramref name="sectionName"/> to a new <typeparamref name="T"/> and validates it.</summary>
    /// <exception cref="OptionsValidationException">The section is invalid; the message names each bad setting.</exception>
    public static T Get<T>(IConfiguration configuration, string sectionName, IValidateOptions<T> validator)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(validator);
        T options;
        try
        {
            options = configuration.GetSection(sectionName).Get<T>() ?? new T();
        }
        catch (InvalidOperationException ex)
        {
            // The binder names the key and the value it could not convert, e.g. "Embeddings:Cluster:SiloPort".
            throw new OptionsValidationException(sectionName, typeof(T), [ex.Message]);
        }

        var result = validator.Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(sectionName, typeof(T), result.Failures);
        }

        return options;
    }
}

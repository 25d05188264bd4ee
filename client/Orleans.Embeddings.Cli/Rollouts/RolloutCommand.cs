using Orleans.Embeddings.Cli.Api;
using System.CommandLine;
using Orleans.Embeddings.Rollouts;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Rollouts;

/// <summary><c>embeddings rollout start|status|traffic|freeze|promote|rollback|retire|repair|cancel</c>, through a silo's operator API.</summary>
internal static class RolloutCommand
{
    public static Command Create()
    {
        var rollout = new Command("rollout", "Roll a model version out with zero downtime, through a silo's operator API.");
        rollout.Subcommands.Add(VersionCommand("start", "Start rolling out a registered version: dual-write, bulk load, reconcile, index.", "rollout/start"));
        rollout.Subcommands.Add(StatusCommand());
        rollout.Subcommands.Add(TrafficCommand());
        rollout.Subcommands.Add(FreezeCommand());
        rollout.Subcommands.Add(VersionCommand("promote", "Send all search traffic to the version; the old one is written through the rollback window.", "rollout/promote"));
        rollout.Subcommands.Add(PlainCommand("rollback", "Send all traffic back to the previous version at once.", "rollout/rollback"));
        rollout.Subcommands.Add(VersionCommand("retire", "Stop writing a version that receives no traffic, then drop its table.", "rollout/retire"));
        rollout.Subcommands.Add(VersionCommand("repair", "Reconcile a written version with the documents until a pass finds nothing.", "rollout/repair"));
        rollout.Subcommands.Add(PlainCommand("cancel", "Cancel a rollout that serves no traffic yet.", "rollout/cancel"));
        return rollout;
    }

    private static Command VersionCommand(string name, string description, string path)
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var version = new Argument<string>("version") { Description = "The model version." };
        var command = new Command(name, description) { version, collection, api, token };
        command.SetAction((result, ct) => CallAsync(result.GetValue(api)!, result.GetValue(token), client =>
            client.PostAsync<RolloutStatus>(result.GetValue(collection)!, path, new { version = result.GetValue(version) }, ct)));
        return command;
    }

    private static Command PlainCommand(string name, string description, string path)
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var command = new Command(name, description) { collection, api, token };
        command.SetAction((result, ct) => CallAsync(result.GetValue(api)!, result.GetValue(token), client =>
            client.PostAsync<RolloutStatus>(result.GetValue(collection)!, path, null, ct)));
        return command;
    }

    private static Command TrafficCommand()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var version = new Argument<string>("version") { Description = "The rollout's version." };
        var percent = new Argument<int>("percent") { Description = "Share of search traffic, 0-100 (sticky by routing key)." };
        var command = new Command("traffic", "Send a percentage of search traffic to the rollout's version.") { version, percent, collection, api, token };
        command.SetAction((result, ct) => CallAsync(result.GetValue(api)!, result.GetValue(token), client =>
            client.PostAsync<RolloutStatus>(result.GetValue(collection)!, "rollout/traffic", new { version = result.GetValue(version), percent = result.GetValue(percent) }, ct)));
        return command;
    }

    private static Command FreezeCommand()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var off = new Option<bool>("--off") { Description = "Unfreeze." };
        var command = new Command("freeze", "Freeze the traffic split for an A/B comparison (traffic changes and promotion are refused).") { off, collection, api, token };
        command.SetAction((result, ct) => CallAsync(result.GetValue(api)!, result.GetValue(token), client =>
            client.PostAsync<RolloutStatus>(result.GetValue(collection)!, "rollout/freeze", new { frozen = !result.GetValue(off) }, ct)));
        return command;
    }

    private static Command StatusCommand()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var watch = new Option<bool>("--watch", "-w") { Description = "Follow the rollout with a progress bar until it is Ready (or fails)." };
        var minutes = new Option<int>("--minutes") { Description = "The window of the per-version search figures.", DefaultValueFactory = _ => 60 };
        var command = new Command("status", "Show the versions, their traffic, the rollout's progress, and per-version search figures (A/B and shadow).") { watch, minutes, collection, api, token };
        command.SetAction(async (result, ct) =>
        {
            var name = result.GetValue(collection)!;
            if (!result.GetValue(watch))
            {
                return await CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
                {
                    Print(await client.GetAsync<RolloutStatus>(name, "rollout", ct));
                    PrintMetrics(await client.GetAsync<SearchMetricsView>(name, $"rollout/metrics?minutes={result.GetValue(minutes)}", ct));
                    return (object?)null;
                });
            }

            try
            {
                using var client = SiloApi.Create(result.GetValue(api)!, result.GetValue(token));
                return await WatchAsync(client, name, ct);
            }
            catch (InvalidOperationException ex)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static async Task<int> WatchAsync(SiloApi client, string collection, CancellationToken cancellationToken)
    {
        var status = await client.GetAsync<RolloutStatus>(collection, "rollout", cancellationToken);
        if (status.Rollout is not { } first || first.Step is not ("dual-write" or "loading" or "indexing"))
        {
            Print(status);
            return 0;
        }

        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Describe(first), maxValue: Math.Max(1, first.Total));
                while (status.Rollout is { Step: "dual-write" or "loading" or "indexing" } run)
                {
                    task.Description = Describe(run);
                    task.MaxValue = Math.Max(1, run.Total);
                    task.Value = Math.Min(run.Done, task.MaxValue);
                    await Task.Delay(1000, cancellationToken);
                    try
                    {
                        status = await client.GetAsync<RolloutStatus>(collection, "rollout", cancellationToken);
                    }
                    catch (DatabaseUnavailableException)
                    {
                        // The database is restarting: the rollout carries on once it is back, so the watch does too.
                        task.Description = Markup.Escape($"{run.Version}: the silo's database is unavailable; waiting");
                    }
                }

                task.Value = task.MaxValue;
            });
        Print(status);
        return status.Rollout?.Step == "failed" ? 1 : 0;
    }

    private static string Describe(RunProgress run) =>
        Markup.Escape($"{run.Version} {run.Step} pass {run.Pass}: {run.Done:N0}/{run.Total:N0} docs, {run.DocumentsPerSecond:N0}/s");

    internal static void Print(RolloutStatus status)
    {
        var table = new Table().AddColumns("version", "state", "traffic", "written", "representation", "model", "note");
        foreach (var version in status.Versions)
        {
            var model = version.QueryModelPath is { } query ? $"{version.ModelPath} (queries: {query})" : version.ModelPath ?? "";
            table.AddRow(
                Markup.Escape(version.Version), version.State.ToString(), $"{version.TrafficPercent}%", version.WriteTarget ? "yes" : "no",
                Markup.Escape(version.Representation ?? version.Dimensions.ToString(System.Globalization.CultureInfo.InvariantCulture)), Markup.Escape(model), Markup.Escape(version.Error ?? ""));
        }

        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(status.Collection)}[/] routing epoch {status.Epoch}{(status.TrafficFrozen ? ", traffic [yellow]frozen[/] (A/B)" : "")}");
        AnsiConsole.Write(table);
        PrintTunings(status.Versions);
        foreach (var run in new[] { status.Rollout, status.Repair }.OfType<RunProgress>())
        {
            var eta = run.Eta is { } left ? $", ETA {left:hh\\:mm\\:ss}" : "";
            var from = run.From is null ? "" : $" over {run.From}";
            AnsiConsole.MarkupLine(Markup.Escape(
                $"{run.Kind} of {run.Version}{from}: {run.Step}, pass {run.Pass}, {run.Done:N0}/{run.Total:N0} documents, {run.DocumentsPerSecond:N1}/s{eta}, {run.Resumes} resumed range(s), started {run.StartedAt:u}" +
                (run.Error is null ? "" : $" — {run.Error}")));
        }

        if (status.RetireAt is { } retireAt)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"the previous version is written until {retireAt:u} (rollback window), then retired"));
        }
    }

    private static void PrintMetrics(SearchMetricsView metrics)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (metrics.Versions.Count == 0)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"no searches since {metrics.Since:u}"));
            return;
        }

        AnsiConsole.MarkupLine(Markup.Escape($"searches since {metrics.Since:u} (all silos; click-through = searches with a click on a hit ranked <= 10):"));
        var table = new Table().AddColumns("version", "searches", "p50 ms", "p99 ms", "failed", "empty", "click-through");
        foreach (var v in metrics.Versions)
        {
            table.AddRow(
                Markup.Escape(v.Version), v.Searches.ToString("N0", inv), v.P50Milliseconds?.ToString("F1", inv) ?? "-", v.P99Milliseconds?.ToString("F1", inv) ?? "-",
                v.Failed.ToString("N0", inv), v.Empty.ToString("N0", inv), v.ClickThrough is { } ctr ? $"{ctr:P1} ({v.Clicked:N0})" : "-");
        }

        AnsiConsole.Write(table);
        if (metrics.Shadow.Count > 0)
        {
            var shadow = new Table().AddColumns("answered by", "shadowed on", "samples", "overlap@k", "RBO", "latency delta p50 ms");
            foreach (var s in metrics.Shadow)
            {
                shadow.AddRow(
                    Markup.Escape(s.Version), Markup.Escape(s.Candidate), s.Samples.ToString("N0", inv), s.Overlap?.ToString("F3", inv) ?? "-",
                    s.Rbo?.ToString("F3", inv) ?? "-", s.LatencyDeltaP50Milliseconds?.ToString("+0.0;-0.0", inv) ?? "-");
            }

            AnsiConsole.Write(shadow);
        }
    }

    private sealed record SearchMetricsView(DateTimeOffset Since, List<VersionStatsView> Versions, List<ShadowView> Shadow);

    private sealed record VersionStatsView(string Version, long Searches, long Failed, long Empty, double? P50Milliseconds, double? P99Milliseconds, long Clicked, double? ClickThrough);

    private sealed record ShadowView(string Version, string Candidate, long Samples, double? Overlap, double? Rbo, double? LatencyDeltaP50Milliseconds);

    internal static async Task<int> CallAsync<T>(string api, string? token, Func<SiloApi, Task<T>> call)
    {
        try
        {
            using var client = SiloApi.Create(api, token);
            var result = await call(client);
            switch (result)
            {
                case RolloutStatus status:
                    Print(status);
                    break;
                case null:
                    break;
                case string text:
                    Console.WriteLine(text);
                    break;
                default:
                    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(result, SiloApi.Json));
                    break;
            }

            return 0;
        }
        catch (InvalidOperationException ex)
        {
            return Fail(ex.Message);
        }
    }

    /// <summary>
    /// One line per version whose ef_search was measured (below the versions' table, which has no room left in 80
    /// columns): what it reached, against which target, at what cost. Others search with ef_search 100.
    /// </summary>
    internal static void PrintTunings(IEnumerable<ModelVersionStatus> versions)
    {
        foreach (var version in versions.Where(v => v.EfSearch is not null))
        {
            AnsiConsole.MarkupLine(Markup.Escape($"{version.Version}: {version.EfSearch}, {version.EfSearch!.TunedAt:u}"));
        }
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return 1;
    }
}

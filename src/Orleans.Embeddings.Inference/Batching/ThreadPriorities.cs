using System.Runtime.InteropServices;

namespace Orleans.Embeddings.Inference.Batching;

/// <summary>
/// Lowers the CPU priority of the calling thread: on Linux its nice value (nice is per thread there), elsewhere
/// <see cref="Thread.Priority"/>. A thread may always lower its own priority; raising it back needs privileges, so the
/// batcher lowers only threads that do nothing but background work.
/// </summary>
internal static partial class ThreadPriorities
{
    private const int PriorityProcess = 0; // PRIO_PROCESS: with a thread id, that one thread

    /// <summary>Sets the calling thread's nice value to <paramref name="nice"/> (1–19); true when the OS took it.</summary>
    public static bool LowerCurrentThread(int nice)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                return SetPriority(PriorityProcess, (uint)GetThreadId(), nice) == 0;
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                return false;
            }
        }

        Thread.CurrentThread.Priority = nice >= 10 ? ThreadPriority.Lowest : ThreadPriority.BelowNormal;
        return true;
    }

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, uint who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetThreadId();
}

using System.Numerics.Tensors;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>Solves A·X = B for a symmetric positive definite A by Cholesky factorisation, in place, in double precision.</summary>
internal static class CholeskySolver
{
    /// <summary>
    /// Overwrites <paramref name="matrix"/> (n × n, row-major, symmetric positive definite) with its factor L and
    /// <paramref name="rightHandSides"/> (n × <paramref name="columns"/>, row-major) with the solution X.
    /// </summary>
    /// <exception cref="InvalidOperationException">The matrix is not positive definite (a pivot is not positive).</exception>
    public static void SolveInPlace(double[] matrix, int n, double[] rightHandSides, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(matrix.Length, n * n);
        ArgumentOutOfRangeException.ThrowIfNotEqual(rightHandSides.Length, n * columns);

        // A = L·Lᵀ, row by row: L[i][j] = (A[i][j] - L[i][..j]·L[j][..j]) / L[j][j].
        for (var i = 0; i < n; i++)
        {
            var rowI = matrix.AsSpan(i * n, n);
            for (var j = 0; j <= i; j++)
            {
                var rowJ = matrix.AsSpan(j * n, n);
                var value = rowI[j] - TensorPrimitives.Dot<double>(rowI[..j], rowJ[..j]);
                if (i == j)
                {
                    if (!(value > 0))
                    {
                        throw new InvalidOperationException($"The matrix is not positive definite (pivot {i} is {value}).");
                    }

                    rowI[i] = Math.Sqrt(value);
                }
                else
                {
                    rowI[j] = value / rowJ[j];
                }
            }
        }

        // L·Z = B, forward; then Lᵀ·X = Z, backward. All right-hand sides at once, a row of them at a time.
        for (var i = 0; i < n; i++)
        {
            var row = rightHandSides.AsSpan(i * columns, columns);
            for (var k = 0; k < i; k++)
            {
                TensorPrimitives.MultiplyAdd<double>(rightHandSides.AsSpan(k * columns, columns), -matrix[(i * n) + k], row, row);
            }

            TensorPrimitives.Divide<double>(row, matrix[(i * n) + i], row);
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var row = rightHandSides.AsSpan(i * columns, columns);
            for (var k = i + 1; k < n; k++)
            {
                TensorPrimitives.MultiplyAdd<double>(rightHandSides.AsSpan(k * columns, columns), -matrix[(k * n) + i], row, row);
            }

            TensorPrimitives.Divide<double>(row, matrix[(i * n) + i], row);
        }
    }
}

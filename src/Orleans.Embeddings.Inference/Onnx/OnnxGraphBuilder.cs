using System.Runtime.InteropServices;

namespace Orleans.Embeddings.Inference.Onnx;

/// <summary>
/// Builds an ONNX model (a <c>ModelProto</c>) from inputs, outputs, initializers and nodes, and writes it
/// in the protobuf wire format ONNX Runtime loads. Only the parts of onnx.proto the project's model
/// builders need are covered; field numbers follow onnx.proto.
/// </summary>
public sealed class OnnxGraphBuilder(string graphName)
{
    /// <summary>The ONNX IR version written (IR 8: ONNX 1.10+, understood by every current runtime).</summary>
    public const long IrVersion = 8;

    /// <summary>The default-domain opset the graph is written against.</summary>
    public const long Opset = 17;

    private readonly List<Action<ProtoWriter>> _inputs = [];
    private readonly List<Action<ProtoWriter>> _outputs = [];
    private readonly List<Action<ProtoWriter>> _initializers = [];
    private readonly List<Action<ProtoWriter>> _nodes = [];

    /// <summary>Declares a graph input. A dimension is a fixed size (long) or a symbolic name (string).</summary>
    public OnnxGraphBuilder AddInput(string name, OnnxElementType type, params object[] dimensions)
    {
        _inputs.Add(ValueInfo(name, type, dimensions));
        return this;
    }

    /// <summary>Declares a graph output.</summary>
    public OnnxGraphBuilder AddOutput(string name, OnnxElementType type, params object[] dimensions)
    {
        _outputs.Add(ValueInfo(name, type, dimensions));
        return this;
    }

    /// <summary>Adds a constant float tensor (weights), stored as raw little-endian bytes.</summary>
    public OnnxGraphBuilder AddInitializer(string name, ReadOnlySpan<float> values, params long[] dimensions)
    {
        CheckSize(name, values.Length, dimensions);
        var raw = MemoryMarshal.AsBytes(values).ToArray();
        _initializers.Add(t => t.PackedInt64(1, dimensions).Int64(2, (long)OnnxElementType.Float).String(8, name).Bytes(9, raw));
        return this;
    }

    /// <summary>Adds a constant int64 tensor (shapes, axes).</summary>
    public OnnxGraphBuilder AddInitializer(string name, ReadOnlySpan<long> values, params long[] dimensions)
    {
        CheckSize(name, values.Length, dimensions);
        var raw = MemoryMarshal.AsBytes(values).ToArray();
        _initializers.Add(t => t.PackedInt64(1, dimensions).Int64(2, (long)OnnxElementType.Int64).String(8, name).Bytes(9, raw));
        return this;
    }

    /// <summary>Adds an operator node. Attribute values may be long, float, or long[].</summary>
    public OnnxGraphBuilder AddNode(string opType, string[] inputs, string[] outputs, IReadOnlyDictionary<string, object>? attributes = null)
    {
        var name = $"{opType}_{_nodes.Count}";
        _nodes.Add(node =>
        {
            foreach (var input in inputs)
            {
                node.String(1, input);
            }

            foreach (var output in outputs)
            {
                node.String(2, output);
            }

            node.String(3, name).String(4, opType);
            foreach (var (key, value) in attributes ?? new Dictionary<string, object>())
            {
                node.Message(5, attribute => WriteAttribute(attribute, key, value));
            }
        });
        return this;
    }

    /// <summary>The serialized model.</summary>
    public byte[] Build(string producer = "Orleans.Embeddings")
    {
        var model = new ProtoWriter()
            .Int64(1, IrVersion)
            .String(2, producer)
            .Message(7, graph =>
            {
                _nodes.ForEach(n => graph.Message(1, n));
                graph.String(2, graphName);
                _initializers.ForEach(i => graph.Message(5, i));
                _inputs.ForEach(i => graph.Message(11, i));
                _outputs.ForEach(o => graph.Message(12, o));
            })
            .Message(8, opset => opset.String(1, string.Empty).Int64(2, Opset));
        return model.ToArray();
    }

    private static Action<ProtoWriter> ValueInfo(string name, OnnxElementType type, object[] dimensions) => info => info
        .String(1, name)
        .Message(2, typeProto => typeProto.Message(1, tensor => tensor
            .Int64(1, (long)type)
            .Message(2, shape =>
            {
                foreach (var dimension in dimensions)
                {
                    shape.Message(1, dim => _ = dimension switch
                    {
                        long size => dim.Int64(1, size),
                        int size => dim.Int64(1, size),
                        string symbol => dim.String(2, symbol),
                        _ => throw new ArgumentException($"Dimension '{dimension}' of {name} must be a size or a symbolic name."),
                    });
                }
            })));

    private static void WriteAttribute(ProtoWriter attribute, string name, object value)
    {
        attribute.String(1, name);
        switch (value)
        {
            case long i:
                attribute.Int64(3, i).Int64(20, 2);
                break;
            case int i:
                attribute.Int64(3, i).Int64(20, 2);
                break;
            case float f:
                attribute.Float(2, f).Int64(20, 1);
                break;
            case long[] ints:
                attribute.PackedInt64(8, ints).Int64(20, 7);
                break;
            default:
                throw new ArgumentException($"Attribute '{name}' has an unsupported type {value?.GetType().Name}.", nameof(value));
        }
    }

    private static void CheckSize(string name, int count, long[] dimensions)
    {
        var expected = dimensions.Aggregate(1L, (a, b) => a * b);
        if (expected != count)
        {
            throw new ArgumentException($"Initializer '{name}' has {count} values but its dimensions [{string.Join(", ", dimensions)}] hold {expected}.", nameof(dimensions));
        }
    }
}

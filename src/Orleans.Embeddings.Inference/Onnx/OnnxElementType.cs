namespace Orleans.Embeddings.Inference.Onnx;

/// <summary>The ONNX tensor element types the model builders use (values as in onnx.proto's TensorProto.DataType).</summary>
public enum OnnxElementType
{
    /// <summary>32-bit float.</summary>
    Float = 1,

    /// <summary>64-bit signed integer (token ids, attention masks).</summary>
    Int64 = 7,
}

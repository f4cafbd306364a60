using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace EdgeRelay.Turn.Tests;

/// <summary>DESIGN.md: the TURN core is sans-I/O and never references System.Net.Sockets.</summary>
public sealed class ArchitectureTests
{
    private static List<string> ReferencedTypes(string assemblyPath)
    {
        using FileStream stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        MetadataReader metadata = pe.GetMetadataReader();
        var types = new List<string>();
        foreach (TypeReferenceHandle handle in metadata.TypeReferences)
        {
            TypeReference reference = metadata.GetTypeReference(handle);
            string ns = metadata.GetString(reference.Namespace);
            // A nested type's namespace is empty: take its enclosing type's.
            EntityHandle scope = reference.ResolutionScope;
            while (ns.Length == 0 && scope.Kind == HandleKind.TypeReference)
            {
                TypeReference outer = metadata.GetTypeReference((TypeReferenceHandle)scope);
                ns = metadata.GetString(outer.Namespace);
                scope = outer.ResolutionScope;
            }
            types.Add($"{ns}.{metadata.GetString(reference.Name)}");
        }
        return types;
    }

    [Fact]
    public void Turn_assembly_references_no_type_of_System_Net_Sockets()
    {
        List<string> types = ReferencedTypes(typeof(TurnServer).Assembly.Location);

        // The scan sees what it should: IPAddress is referenced, so System.Net types are visible to it.
        Assert.Contains("System.Net.IPAddress", types);
        Assert.DoesNotContain(types, t => t.StartsWith("System.Net.Sockets.", StringComparison.Ordinal));
    }

    [Fact]
    public void Stun_assembly_references_no_type_of_System_Net_Sockets()
    {
        List<string> types = ReferencedTypes(typeof(Stun.StunMessageReader).Assembly.Location);

        Assert.DoesNotContain(types, t => t.StartsWith("System.Net.Sockets.", StringComparison.Ordinal));
    }

    [Fact]
    public void Turn_assembly_does_not_reference_the_sockets_assembly()
    {
        Assert.DoesNotContain(typeof(TurnServer).Assembly.GetReferencedAssemblies(), a => a.Name == "System.Net.Sockets");
    }
}

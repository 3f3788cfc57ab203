// Kubernetes-style `…List` documents (calicoctl get -o yaml, kubectl get -o yaml) opened into one document per item,
// each still positioned in its file, so exports can be committed as they come out of the tools.
import { diagnosticAt, type SourceDocument } from './documents.js';
import type { Diagnostic } from './diagnostics.js';

/** A document is a list when its kind ends in "List" and it has `items` (calicoctl: GlobalNetworkPolicyList; kubectl: List). */
function isList(value: unknown): value is { kind: string; items: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v['kind'] === 'string' && v['kind'].endsWith('List') && 'items' in v;
}

/**
 * Every document, with each list replaced by its items. An item keeps the list's file and document number; its
 * positions and JSON paths lead back into the list (`items[3].spec...`). A typed list (GlobalNetworkPolicyList) lends
 * its item kind and apiVersion to items that leave them out, and refuses items of another kind.
 */
export function expandLists(documents: readonly SourceDocument[]): {
  documents: SourceDocument[];
  diagnostics: Diagnostic[];
} {
  const out: SourceDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const doc of documents) {
    if (!isList(doc.value)) {
      out.push(doc);
      continue;
    }
    const list = doc.value as { kind: string; apiVersion?: unknown; items: unknown };
    if (!Array.isArray(list.items)) {
      if (list.items !== null)
        diagnostics.push(
          diagnosticAt(doc, ['items'], 'error', 'list-items', `${list.kind}: items must be a list of resources`),
        );
      continue;
    }
    // "List" alone is kubectl's untyped list; "GlobalNetworkPolicyList" holds GlobalNetworkPolicy items.
    const itemKind = list.kind === 'List' ? null : list.kind.slice(0, -'List'.length);
    list.items.forEach((item, i) => {
      const at = ['items', i] as const;
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        diagnostics.push(
          diagnosticAt(doc, [...at], 'error', 'list-items', `${list.kind}: each item must be a resource (a mapping)`),
        );
        return;
      }
      let value = item as Record<string, unknown>;
      if (itemKind !== null) {
        if (value['kind'] !== undefined && value['kind'] !== itemKind) {
          diagnostics.push(
            diagnosticAt(
              doc,
              [...at, 'kind'],
              'error',
              'list-item-kind',
              `a ${list.kind} holds ${itemKind} items, not ${String(value['kind'])}`,
            ),
          );
          return;
        }
        value = { apiVersion: list.apiVersion, kind: itemKind, ...value };
      }
      if (isList(value)) {
        diagnostics.push(
          diagnosticAt(
            doc,
            [...at],
            'error',
            'list-items',
            'a list inside a list is not read; export the resources as one list',
          ),
        );
        return;
      }
      out.push({
        file: doc.file,
        index: doc.index,
        value,
        locate: (path, opts) => doc.locate([...at, ...path], opts),
        pathPrefix: [...(doc.pathPrefix ?? []), ...at],
      });
    });
  }
  return { documents: out, diagnostics };
}

// The resource documents compile tests write, as objects: the fields a test varies are arguments, the rest is
// what every valid document of the kind carries.
const CALICO = 'projectcalico.org/v3';

export function hostEndpoint(name: string, node: string, spec: object, labels: Record<string, string> = {}): object {
  return { apiVersion: CALICO, kind: 'HostEndpoint', metadata: { name, labels }, spec: { node, ...spec } };
}

export function networkSet(name: string, labels: Record<string, string>, nets: string[]): object {
  return { apiVersion: CALICO, kind: 'GlobalNetworkSet', metadata: { name, labels }, spec: { nets } };
}

/** A policy notrack enforces: doNotTrack with the applyOnForward Calico requires, selecting every endpoint unless `spec` says. */
export function untrackedPolicy(name: string, spec: object): object {
  return {
    apiVersion: CALICO,
    kind: 'GlobalNetworkPolicy',
    metadata: { name },
    spec: { selector: 'all()', doNotTrack: true, applyOnForward: true, ...spec },
  };
}

export function notrackConfiguration(name: string, spec: object): object {
  return { apiVersion: 'notrack.dev/v1alpha1', kind: 'NotrackConfiguration', metadata: { name }, spec };
}

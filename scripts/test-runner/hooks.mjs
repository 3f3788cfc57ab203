// Module resolution hook for test children: `import ... from 'uvu'` gets the counting wrapper (count-uvu.mjs).
const wrapper = new URL('./count-uvu.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'uvu' && context.parentURL !== wrapper) return { url: wrapper, shortCircuit: true };
  return next(specifier, context);
}

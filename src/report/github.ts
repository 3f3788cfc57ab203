// GitHub workflow commands: the one escaping of annotation data and properties, and an annotation per diagnostic.
import { printable, type Diagnostic } from '../model/diagnostics.js';

/** GitHub's escaping of a workflow command's data (the message). */
function escapeData(s: string): string {
  // %0D and %0A are how GitHub spells a line break; other control characters (ESC ...) are shown as escapes.
  const lines = s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return printable(lines);
}

/** GitHub's escaping of a workflow command's property values (file, title). */
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * One `::error file=…,line=…,col=…,title=notrack CODE::message` line. `detailed` adds the end column of a one-line
 * finding and the JSON path after the message.
 */
export function githubAnnotation(d: Diagnostic, options: { detailed: boolean }): string {
  const props = [`file=${escapeProperty(d.file)}`, `line=${d.line}`, `col=${d.col}`];
  if (options.detailed && d.endLine !== undefined && d.endLine === d.line && d.endCol !== undefined)
    props.push(`endColumn=${d.endCol}`);
  props.push(`title=${escapeProperty(`notrack ${d.code}`)}`);
  const at = options.detailed && d.path ? ` (at ${d.path})` : '';
  return `::${d.severity} ${props.join(',')}::${escapeData(d.message + at)}`;
}

/** A workflow command without a file: `::warning title=…::message` (shown in the run's annotations). */
export function githubMessage(severity: 'error' | 'warning' | 'notice', title: string, message: string): string {
  return `::${severity} title=${escapeProperty(title)}::${escapeData(message)}`;
}

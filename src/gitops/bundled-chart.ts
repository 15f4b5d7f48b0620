import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUNDLED_CHART_PATH } from '../model/tiers';

/** The chart tagflow ships, copied into the GitOps tree when an app deploys it. */
export const BUNDLED_CHART_DIR = path.resolve(__dirname, '..', '..', BUNDLED_CHART_PATH);

function listFiles(dir: string, prefix = ''): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]));
}

const VERSION_LINE = /^version:[ \t]*(\S+)[ \t]*$/m;

/**
 * The chart's files as written into the tree (path in the tree → bytes). The HelmReleases use Flux's
 * ChartVersion strategy, so a chart is rebuilt and its releases upgraded only when its version changes:
 * `version` in Chart.yaml gets the content hash of the chart as SemVer build metadata (`0.1.0+<12 hex>`).
 * A change to any chart file changes the version and rolls out; a commit that does not touch the chart
 * (an image update, another tier) upgrades nothing.
 */
export function bundledChartFiles(dir = BUNDLED_CHART_DIR, treePath = BUNDLED_CHART_PATH): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const rel of listFiles(dir)) files.set(rel, fs.readFileSync(path.join(dir, rel)));
  const chartYaml = files.get('Chart.yaml')?.toString('utf8');
  const m = chartYaml ? VERSION_LINE.exec(chartYaml) : null;
  if (!chartYaml || !m) throw new Error(`${dir}/Chart.yaml: no 'version:' line to stamp`);
  const base = m[1]!.replace(/\+.*$/, '');
  const hash = crypto.createHash('sha256');
  for (const [rel, content] of files) {
    hash.update(`${rel}\0${rel === 'Chart.yaml' ? chartYaml.replace(VERSION_LINE, `version: ${base}`) : content.toString('latin1')}\0`, 'latin1');
  }
  files.set('Chart.yaml', Buffer.from(chartYaml.replace(VERSION_LINE, `version: ${base}+${hash.digest('hex').slice(0, 12)}`)));
  return new Map([...files].map(([rel, content]) => [`${treePath}/${rel}`, content]));
}

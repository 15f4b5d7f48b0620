import * as http from 'node:http';
import type * as net from 'node:net';
import { cliAsync as cli } from './support/cli';
import { gitTree, registrySnapshot, setMarker } from './support/gates';
import { fetchManifest, pushImage, pushIndex, REGISTRY_BINARY, REGISTRY_SKIP_REASON, startRegistry, type TestRegistry } from './support/registry';
import { sampleEnvironment, tmpDir, writeStack } from './support/tree';

/**
 * The scan gate with ECR as the source. The real ECR API cannot be reached from here, so its endpoint is
 * a stand-in on 127.0.0.1 (the AWS SDK honours AWS_ENDPOINT_URL_ECR) that answers
 * DescribeImageScanFindings in the AWS JSON 1.1 protocol with the shapes of the API reference
 * (imageScanStatus, imageScanFindings.findingSeverityCounts, ScanNotFoundException). The images are in a
 * real registry (docker-registry), reached with --registry.
 */
const describeEcr = REGISTRY_BINARY ? describe : describe.skip;

type Answer = { status: number; body: unknown };

describeEcr(`scan gate: ECR scan findings from a stand-in for the ECR API${REGISTRY_BINARY ? '' : ` (${REGISTRY_SKIP_REASON})`}`, () => {
  let reg: TestRegistry;
  let ecrApi: http.Server;
  let endpoint: string;
  const answers = new Map<string, Answer>();
  const requests: { target: string; body: any }[] = [];
  let configDir: string;
  let tree: string;

  beforeAll(async () => {
    reg = await startRegistry();
    ecrApi = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const parsed = JSON.parse(body || '{}');
        requests.push({ target: req.headers['x-amz-target'] as string, body: parsed });
        const a = answers.get(parsed.imageId?.imageDigest) ?? { status: 400, body: { __type: 'ScanNotFoundException', message: `Image scan does not exist for the image with '{imageDigest:${parsed.imageId?.imageDigest}}'` } };
        res.writeHead(a.status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(a.body));
      });
    });
    await new Promise<void>((r) => ecrApi.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(ecrApi.address() as net.AddressInfo).port}`;
    configDir = tmpDir();
    writeStack(configDir, 'ecr', sampleEnvironment({ name: 'ecr', tiers: { staging: {}, release: {} }, apps: [{ name: 'api' }], promotion: { gates: { scan: { failOn: 'HIGH' } } } }));
    tree = await gitTree(configDir, new Date());
  }, 60_000);
  afterAll(async () => {
    ecrApi?.close();
    await reg?.stop();
  });

  const env = () => ({
    AWS_ENDPOINT_URL_ECR: endpoint,
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_PROFILE: '',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  });
  const found = (counts: Record<string, number>, status = 'COMPLETE'): Answer => ({
    status: 200,
    body: { registryId: '123456789012', repositoryName: 'api', imageScanStatus: { status, description: 'The scan was completed successfully.' }, imageScanFindings: { imageScanCompletedAt: 1764489600, findingSeverityCounts: counts, findings: [] } },
  });

  async function promote(tag: string, version: string) {
    setMarker(tree, 'environments/ecr/staging/releases/api.yaml', 'staging:api:tag', tag);
    return cli(['promote', '--stack', 'ecr', '--app', 'api', '--version', version, '--tree', tree, '--config-dir', configDir, '--registry', reg.url, '--insecure-registry', '--json'], env());
  }

  it('asks ECR about the exact digest and refuses findings at or above the threshold, writing nothing', async () => {
    const img = await pushImage(reg, 'api', 'branch-staging-1700000001-aaaaaaa');
    answers.set(img.digest, found({ HIGH: 1, MEDIUM: 4 }));
    const before = registrySnapshot(reg);
    const r = await promote('branch-staging-1700000001-aaaaaaa', '1.0.0');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`tagflow: refused: gate scan: ECR scan findings at or above HIGH: 1 HIGH in ${img.digest}`);
    expect(requests.at(-1)).toEqual({
      target: 'AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings',
      body: { registryId: '123456789012', repositoryName: 'api', imageId: { imageDigest: img.digest }, maxResults: 1 },
    });
    expect(JSON.parse(r.out).gates[1]).toMatchObject({ gate: 'scan', verdict: 'fail', evidence: { source: 'ecr', registryId: '123456789012', region: 'eu-west-1', scans: [{ digest: img.digest, status: 'COMPLETE', counts: { HIGH: 1, MEDIUM: 4 } }] } });
    expect(registrySnapshot(reg)).toEqual(before);
  });

  it('a scan that has not completed, or was never made, blocks with its status', async () => {
    const img = await pushImage(reg, 'api', 'branch-staging-1700000002-bbbbbbb');
    answers.set(img.digest, found({}, 'IN_PROGRESS'));
    const pending = await promote('branch-staging-1700000002-bbbbbbb', '1.1.0');
    expect(pending.code).toBe(1);
    expect(pending.err).toContain(`refused: gate scan: the ECR scan has not completed: ${img.digest} is IN_PROGRESS`);
    answers.delete(img.digest);
    const none = await promote('branch-staging-1700000002-bbbbbbb', '1.1.0');
    expect(none.code).toBe(1);
    expect(none.err).toContain(`refused: gate scan: the ECR scan has not completed: ${img.digest} is NOT_FOUND (ScanNotFoundException: Image scan does not exist`);
  });

  it('an enhanced scan (ACTIVE) below the threshold passes; an index is judged by each platform image', async () => {
    const amd = await pushImage(reg, 'api', 'amd64-build');
    const arm = await pushImage(reg, 'api', 'arm64-build');
    const index = await pushIndex(reg, 'api', 'branch-staging-1700000003-ccccccc', [amd, arm]);
    answers.set(amd.digest, found({ MEDIUM: 2, UNTRIAGED: 1 }, 'ACTIVE'));
    answers.set(arm.digest, found({ CRITICAL: 1 }, 'ACTIVE'));
    const refused = await promote('branch-staging-1700000003-ccccccc', '1.2.0');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`gate scan: ECR scan findings at or above HIGH: 1 CRITICAL in ${arm.digest}`);
    answers.set(arm.digest, found({ LOW: 3 }, 'ACTIVE'));
    const ok = await promote('branch-staging-1700000003-ccccccc', '1.2.0');
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ status: 'promoted', digest: index.digest, gates: [{ gate: 'signature', verdict: 'off' }, { gate: 'scan', verdict: 'pass' }, { gate: 'soak', verdict: 'off' }, { gate: 'age', verdict: 'off' }] });
    expect((await fetchManifest(reg, 'api', 'release-1.2.0'))!.digest).toBe(index.digest);
  });

  it('AWS refusing the call is a registry error (exit 3), not a verdict', async () => {
    const img = await pushImage(reg, 'api', 'branch-staging-1700000004-ddddddd');
    answers.set(img.digest, { status: 400, body: { __type: 'AccessDeniedException', message: 'not authorized to perform: ecr:DescribeImageScanFindings' } });
    const r = await promote('branch-staging-1700000004-ddddddd', '1.3.0');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^tagflow: could not read the ECR scan of api@sha256:[0-9a-f]{64} in account 123456789012 \(eu-west-1\) \(ecr:DescribeImageScanFindings\): AccessDeniedException: not authorized/);
  });
});

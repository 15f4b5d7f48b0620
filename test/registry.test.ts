import * as http from 'node:http';
import type * as net from 'node:net';
import { nextLink, RegistryClient } from '../src/registry/oci-client';
import { parseWwwAuthenticate } from '../src/registry/www-authenticate';
import { parseEcrHost } from '../src/registry/ecr-auth';

// The OCI client and ECR authentication on their own; against a real registry they are exercised by
// simulate.test.ts and promote.test.ts.
describe('registry protocol helpers', () => {
  it('parses Bearer and Basic challenges, with commas inside quoted scopes', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseWwwAuthenticate('Basic realm="ECR"')).toEqual([{ scheme: 'basic', params: { realm: 'ECR' } }]);
    expect(parseWwwAuthenticate('Basic realm="a\\"b", Bearer realm="x"').map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });

  it('follows only rel="next" links and keeps them on the registry', () => {
    expect(nextLink('</v2/app/tags/list?last=b&n=2>; rel="next"', 'http://r:5000')).toBe('/v2/app/tags/list?last=b&n=2');
    expect(nextLink('<https://elsewhere/v2/app/tags/list?last=b>; rel="next"', 'http://r:5000')).toBe('/v2/app/tags/list?last=b');
    expect(nextLink('</v2/app/tags/list?last=a>; rel="prev"', 'http://r:5000')).toBeUndefined();
    expect(nextLink(null, 'http://r:5000')).toBeUndefined();
  });

  it('recognizes ECR hosts (also FIPS and China) and nothing else', () => {
    expect(parseEcrHost('111122223333.dkr.ecr.eu-west-1.amazonaws.com')).toEqual({ accountId: '111122223333', region: 'eu-west-1' });
    expect(parseEcrHost('111122223333.dkr.ecr-fips.us-east-1.amazonaws.com')).toEqual({ accountId: '111122223333', region: 'us-east-1' });
    expect(parseEcrHost('111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn')).toEqual({ accountId: '111122223333', region: 'cn-north-1' });
    expect(parseEcrHost('ghcr.io')).toBeUndefined();
    expect(parseEcrHost('111122223333.dkr.ecr.eu-west-1.amazonaws.com.evil.example')).toBeUndefined();
  });

  it('rejects registry URLs with a path, and non-HTTP schemes', () => {
    expect(() => new RegistryClient({ baseUrl: 'http://r:5000/v2/app' })).toThrow(/without a path/);
    expect(() => new RegistryClient({ baseUrl: 'ftp://r' })).toThrow(/only https:\/\/ and http:\/\//);
    expect(new RegistryClient({ baseUrl: 'r.example:5000/' }).baseUrl).toBe('https://r.example:5000');
  });
});

describe('ECR authentication (GetAuthorizationToken, as Flux provider: aws)', () => {
  const saved = { ...process.env };
  let ecrApi: http.Server;
  const requests: { target?: string; body: string }[] = [];
  let fail = false;
  beforeAll(async () => {
    // A stand-in for the ECR API endpoint (the AWS SDK honours AWS_ENDPOINT_URL_ECR): it answers
    // GetAuthorizationToken in the AWS JSON 1.1 protocol.
    ecrApi = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        requests.push({ target: req.headers['x-amz-target'] as string, body });
        if (fail) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized to perform ecr:GetAuthorizationToken' }));
          return;
        }
        res
          .writeHead(200, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify({ authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-password').toString('base64'), expiresAt: 1900000000 }] }));
      });
    });
    await new Promise<void>((r) => ecrApi.listen(0, '127.0.0.1', r));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_ECR: `http://127.0.0.1:${(ecrApi.address() as net.AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_PROFILE: '',
    });
  });
  afterAll(() => {
    process.env = saved;
    ecrApi.close();
  });

  it('asks for the registry account token and uses it as Basic credentials', async () => {
    const { credentialsFor } = await import('../src/registry/clients');
    const creds = await credentialsFor('https://111122223333.dkr.ecr.eu-west-1.amazonaws.com')();
    expect(creds).toEqual({ username: 'AWS', password: 'ecr-password' });
    expect(requests.at(-1)).toEqual({ target: 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken', body: '{"registryIds":["111122223333"]}' });
    // Not an ECR host: no AWS call, credentials only from the environment.
    expect(await credentialsFor('http://127.0.0.1:5000', {})()).toBeUndefined();
    expect(await credentialsFor('http://127.0.0.1:5000', { TAGFLOW_REGISTRY_USERNAME: 'u', TAGFLOW_REGISTRY_PASSWORD: 'p' })()).toEqual({ username: 'u', password: 'p' });
  });

  it('a registry that answers Basic challenges gets those credentials', async () => {
    const expected = `Basic ${Buffer.from('AWS:ecr-password').toString('base64')}`;
    const reg = http.createServer((req, res) => {
      if (req.headers.authorization !== expected) res.writeHead(401, { 'www-authenticate': 'Basic realm="https://ecr.example"' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"app","tags":["release-1.0.0"]}');
    });
    await new Promise<void>((r) => reg.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(reg.address() as net.AddressInfo).port}`;
      const c = new RegistryClient({ insecure: true, baseUrl: url, credentials: async () => ({ username: 'AWS', password: 'ecr-password' }) });
      expect(await c.listTags('app')).toEqual(['release-1.0.0']);
      await expect(new RegistryClient({ insecure: true, baseUrl: url }).listTags('app')).rejects.toThrow(/requires a username and password \(Basic auth\) for GET \/v2\/app\/tags\/list; none were given/);
      await expect(new RegistryClient({ insecure: true, baseUrl: url, credentials: async () => ({ username: 'AWS', password: 'wrong' }) }).listTags('app')).rejects.toThrow(
        /refused GET \/v2\/app\/tags\/list \(401\) with the credentials it asked for/,
      );
    } finally {
      reg.close();
    }
  });

  it('an AWS refusal becomes one clear RegistryError', async () => {
    fail = true;
    const { ecrCredentials } = await import('../src/registry/ecr-auth');
    await expect(ecrCredentials({ accountId: '111122223333', region: 'eu-west-1' })).rejects.toThrow(
      /could not get an ECR token for account 111122223333 in eu-west-1 \(ecr:GetAuthorizationToken\): not authorized/,
    );
    fail = false;
  });
});

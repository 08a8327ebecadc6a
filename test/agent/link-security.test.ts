import { describe, expect, it } from 'vitest';
import { checkControllerLink, describeConnectError, LinkSecurityError } from '../../agent/link-security.js';

describe('checkControllerLink', () => {
  it.each([
    { name: 'wss with a CA', input: { url: 'wss://10.0.0.1:7070/agent', caFile: '/ca.crt' }, link: 'tls' },
    { name: 'wss on system roots', input: { url: 'wss://ctl.example:7070/agent' }, link: 'tls' },
    { name: 'https form', input: { url: 'https://ctl.example/agent' }, link: 'tls' },
    {
      name: 'ws with --insecure',
      input: { url: 'ws://127.0.0.1:7070/agent', insecure: true },
      link: 'plain',
    },
  ])('allows $name', ({ input, link }) => {
    expect(checkControllerLink(input)).toBe(link);
  });

  it.each([
    {
      name: 'ws without --insecure',
      input: { url: 'ws://h:1/agent' },
      error: /refusing plain ws:\/\/.*--insecure/,
    },
    {
      name: 'http without --insecure',
      input: { url: 'http://h:1/agent' },
      error: /refusing plain http:\/\//,
    },
    {
      name: 'ws with --ca',
      input: { url: 'ws://h:1/agent', caFile: '/ca' },
      error: /plain ws:\/\/ but --ca was given: use wss/,
    },
    { name: 'no scheme', input: { url: 'h:1/agent' }, error: /unsupported scheme h:/ },
    { name: 'not a URL', input: { url: '::' }, error: /is not a URL/ },
  ])('refuses $name', ({ input, error }) => {
    expect(() => checkControllerLink(input)).toThrow(LinkSecurityError);
    expect(() => checkControllerLink(input)).toThrow(error);
  });
});

describe('describeConnectError', () => {
  it('names --ca when the certificate does not verify', () => {
    const err = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(describeConnectError(err)).toMatch(/^TLS: the controller's certificate is not trusted .*--ca/);
  });

  it('keeps other errors as code and message when the controller is down', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeConnectError(err)).toBe('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
  });
});

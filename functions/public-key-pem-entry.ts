/** What NodejsFunction bundles for the SigningPublicKey custom resource (functions/public-key-pem.ts). */
import { KMSClient } from '@aws-sdk/client-kms';
import { makePublicKeyHandler } from './public-key-pem.ts';

export const handler = makePublicKeyHandler(new KMSClient({ retryMode: 'standard' }));

#!/usr/bin/env node
// Says hello, then never answers.
import { serve } from './serve.mjs';

serve('hang', { list: () => undefined });

"""Regenerate the built-in sample datasets (``forge/data/samples/*.jsonl``).

Run ``python scripts/make_samples.py`` from anywhere: the files are written to
``forge/data/samples/`` (or to ``--out DIR``). Standard library only, fixed seeds, so the
output is identical on every run. All text is original and fictional.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "forge" / "data" / "samples"
SEED = 20240611


def write_jsonl(folder: Path, name: str, rows: list[dict]) -> None:
    path = folder / name
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{name}: {len(rows)} rows")


def words(text: str) -> int:
    return len(text.split())


# =============================================================================
# A bank of plain questions with short, helpful answers.
# Used by the pirate persona (restyled), the preference pairs and the feedback rows.
# =============================================================================

COOKING = [
    ("How long should I boil an egg for a soft yolk?",
     "Boil it for about six minutes, then cool it in cold water so the yolk stays runny."),
    ("How do I cook rice on the stove?",
     "Rinse the rice, simmer it with about twice its volume of water under a lid for 15 minutes, then let it rest for five."),
    ("How can I stop pasta from sticking together?",
     "Use plenty of boiling water and stir the pasta during the first couple of minutes."),
    ("What is the best way to store fresh herbs?",
     "Wrap them in a damp paper towel and keep them in the fridge, or stand them in a glass of water."),
    ("How do I know when bread is fully baked?",
     "Tap the bottom of the loaf. If it sounds hollow, your bread is done."),
    ("How can I make my soup less salty?",
     "Add more unsalted liquid, or cook some potatoes or rice in it to balance the flavour."),
    ("Why do onions make me cry?",
     "Cutting an onion releases a gas that stings your eyes. A sharp knife and a cold onion help."),
    ("How do I make a simple salad dressing?",
     "Whisk three parts oil with one part vinegar, then add salt, pepper and a little mustard."),
    ("How should I store bananas?",
     "Keep them at room temperature and away from other fruit, because bananas make fruit ripen quickly."),
    ("How do I soften hard butter quickly?",
     "Cut it into small cubes and leave it at room temperature for about 15 minutes."),
    ("What can I use instead of eggs in baking?",
     "A mashed banana or a spoonful of apple sauce can replace one egg in many cakes."),
    ("How do I keep cut apples from turning brown?",
     "Brush the slices with a little lemon juice, which slows the browning."),
    ("How long should I rest a cooked steak?",
     "Let it rest for about five minutes so the juices settle back into the meat."),
    ("How do I make fluffy pancakes?",
     "Do not overmix the batter. A few small lumps are fine and keep your pancakes light."),
    ("Why did my cake sink in the middle?",
     "It was probably underbaked, or the oven door was opened too early. Bake it a little longer next time."),
    ("How can I peel garlic quickly?",
     "Press each clove gently with the flat side of a knife and the skin will slip right off."),
    ("How do I toast nuts?",
     "Toast them in a dry pan over medium heat for a few minutes, stirring so they do not burn."),
    ("What is the safest way to thaw frozen chicken?",
     "Thaw it in the fridge overnight, never on the kitchen counter."),
    ("How do I make scrambled eggs creamy?",
     "Cook them slowly over low heat and take them off the heat while they still look slightly wet."),
    ("How do I stop a pot from boiling over?",
     "Turn the heat down a little and leave the lid slightly open so steam can escape."),
    ("How much water should I use for a cup of tea?",
     "Use about one cup of water for each tea bag or each teaspoon of loose tea."),
    ("How can I tell if an egg is fresh?",
     "Put it in a bowl of water. A fresh egg sinks, and an old egg floats."),
    ("How do I ripen an avocado faster?",
     "Put it in a paper bag with a banana and leave it at room temperature."),
    ("How do I cook vegetables without losing their colour?",
     "Steam them briefly and stop as soon as they are tender."),
    ("How do I make porridge?",
     "Simmer oats with milk or water for about five minutes, stirring often, then add fruit or honey."),
]

SCIENCE = [
    ("Why is the sky blue?",
     "Air scatters blue sunlight more than red light, so you see blue coming from every direction."),
    ("What is photosynthesis?",
     "It is how plants use sunlight, water and carbon dioxide to make sugar and release oxygen."),
    ("What makes thunder?",
     "Lightning heats the air so fast that it expands with a bang, and that sound is thunder."),
    ("Why does ice float on water?",
     "Ice is less dense than liquid water, so it floats on top."),
    ("What is gravity?",
     "Gravity is the pull between things that have mass. It keeps your feet on the ground and the Moon near the Earth."),
    ("Why do we have seasons?",
     "The Earth is tilted, so each half of the planet gets more direct sunlight for part of the year."),
    ("What are the three common states of matter?",
     "The three common states of matter are solid, liquid and gas."),
    ("How fast does light travel?",
     "Light travels at about 300,000 kilometres per second."),
    ("Why does the Moon seem to change shape?",
     "The Moon does not really change shape. You see different parts of its sunlit side as it goes around the Earth."),
    ("What is a magnet?",
     "A magnet is an object whose magnetic field pulls on iron and steel."),
    ("What causes a rainbow?",
     "Sunlight bends inside raindrops and splits into its colours, and that makes a rainbow."),
    ("Why do leaves change colour in autumn?",
     "Trees stop making green chlorophyll, so the yellow and orange colours underneath show through."),
    ("What is an atom?",
     "An atom is a tiny building block of matter, made of protons, neutrons and electrons."),
    ("How does a plant drink water?",
     "Its roots soak up water, which travels up the stem to the leaves."),
    ("What is the boiling point of water?",
     "At sea level, water boils at 100 degrees Celsius."),
    ("At what temperature does water freeze?",
     "Water freezes at 0 degrees Celsius."),
    ("Why do things fall to the ground?",
     "Gravity pulls them toward the centre of the Earth."),
    ("What is the closest star to Earth?",
     "The closest star is the Sun. The next closest is Proxima Centauri."),
    ("What gas do humans breathe out?",
     "You breathe out carbon dioxide, along with some water vapour."),
    ("How many bones does an adult human have?",
     "An adult human has 206 bones."),
    ("What is the largest planet in our solar system?",
     "Jupiter is the largest planet in our solar system."),
    ("Why does metal feel colder than wood?",
     "Metal carries heat away from your hand quickly, so it feels colder even at the same temperature."),
    ("What is evaporation?",
     "Evaporation is when a liquid turns into a gas, like a puddle drying in the sun."),
    ("What makes wind blow?",
     "Wind is air moving from places with high pressure to places with low pressure."),
    ("What is an echo?",
     "An echo is a sound that bounces off a surface and comes back to your ears."),
]

TRAVEL = [
    ("How can I avoid jet lag?",
     "Shift your sleep toward the new time zone a few days before you fly, and get daylight when you arrive."),
    ("What should I always keep in my carry-on bag?",
     "Keep your passport, medicine, a charger and a change of clothes in your carry-on."),
    ("How early should I get to the airport?",
     "Arrive about two hours early for short flights and three hours early for long international flights."),
    ("How can I save money when travelling?",
     "Book early, travel outside the busy season, and eat where the locals eat."),
    ("How do I pack light?",
     "Choose clothes that mix and match, and roll them instead of folding them."),
    ("What should I do if I lose my passport abroad?",
     "Report it to the local police and contact your embassy for an emergency travel document."),
    ("How can I stay comfortable on a long flight?",
     "Drink plenty of water, stand up now and then, and stretch your legs."),
    ("Is it worth learning a few words of the local language before a trip?",
     "Yes. Simple words like hello and thank you make people friendlier and your trip easier."),
    ("How do I deal with motion sickness?",
     "Look at the horizon, get some fresh air, and sit near the middle of the boat or bus."),
    ("How can I keep my valuables safe while travelling?",
     "Use an inside pocket or a money belt, and do not keep everything in one place."),
    ("What is a good way to plan a trip?",
     "List the places you most want to see, then leave free time between them for rest."),
    ("Should I get travel insurance?",
     "Yes. Travel insurance can cover medical costs, lost luggage and cancelled trips."),
    ("How do I find a good place to eat in a new city?",
     "Look for busy places full of locals, and ask your host for a favourite spot."),
    ("How can I make a long train ride more comfortable?",
     "Bring snacks, water, a book and a light jacket, because trains can get chilly."),
    ("What should I do before leaving home for a long trip?",
     "Lock the windows, empty the fridge and ask a neighbour to collect your post."),
    ("How many pairs of shoes should I pack?",
     "Bring two pairs at most: one for walking and one that goes with everything."),
    ("How can I remember where I parked at a big airport?",
     "Take a photo of the nearest parking sign with your phone."),
    ("What should I do when my flight is delayed?",
     "Stay near your gate, check the airline app for updates, and ask about meal vouchers."),
    ("What is the best way to carry money abroad?",
     "Carry a bank card and a little local cash, and keep a spare card somewhere else."),
    ("How can I sleep better in a hotel?",
     "Bring earplugs and an eye mask, and keep the room cool."),
]

ADVICE = [
    ("How can I fall asleep faster?",
     "Keep a regular bedtime, avoid screens for an hour before bed, and keep your room dark and cool."),
    ("How do I stay focused while studying?",
     "Work in blocks of 25 minutes, put your phone in another room, and take a short break after each block."),
    ("How can I save money each month?",
     "Write down what you spend, set a budget, and move some money into savings on payday."),
    ("How do I make a good first impression?",
     "Smile, make eye contact, and remember the other person's name."),
    ("How can I drink more water?",
     "Keep a bottle with you and take a few sips every time you finish a task."),
    ("How do I remember people's names?",
     "Repeat the name when you hear it and use it once during the conversation."),
    ("How can I keep my houseplants alive?",
     "Give them enough light, and water them only when the top of the soil feels dry."),
    ("How do I get rid of hiccups?",
     "Try holding your breath for a few seconds or sipping cold water slowly."),
    ("How can I be more organised?",
     "Write a short to-do list each morning and do the most important task first."),
    ("How do I stop putting things off?",
     "Start with just five minutes on the task. Starting is usually the hardest part."),
    ("How do I clean a stain from a shirt?",
     "Blot it with cold water as soon as you can, then wash it with a little soap before it dries."),
    ("How can I feel less stressed?",
     "Take a walk, breathe slowly, and talk to someone you trust."),
    ("How do I write a good thank-you note?",
     "Say what you are thankful for and why it mattered to you, and keep it short and warm."),
    ("How can I make my phone battery last longer?",
     "Lower the screen brightness and close the apps you are not using."),
    ("How do I choose a strong password?",
     "Use a long phrase made of several random words, and never reuse it on other sites."),
    ("How can I wake up earlier?",
     "Go to bed a little earlier each night and put your alarm on the other side of the room."),
    ("How do I keep my room tidy?",
     "Spend five minutes tidying every evening and give every item its own place."),
    ("How do I prepare for a job interview?",
     "Read about the company, practise common questions aloud, and prepare a few questions of your own."),
    ("How can I be a better listener?",
     "Let the other person finish, ask questions, and repeat back what you heard."),
    ("How do I stay warm in winter?",
     "Wear several thin layers, a hat and warm socks."),
    ("How can I exercise without a gym?",
     "Try brisk walks, push-ups, squats and stretching at home."),
    ("How do I keep cut flowers fresh for longer?",
     "Trim the stems, change the water every two days, and keep them out of direct sun."),
    ("How do I say no politely?",
     "Thank the person, give a short honest reason, and offer another option if you can."),
    ("How can I learn a new language faster?",
     "Practise a little every day and speak with real people as early as you can."),
    ("How do I fix a squeaky door?",
     "Put a few drops of oil on the hinges and open and close the door several times."),
]

ANIMALS = [
    ("How long do cats sleep each day?",
     "Most cats sleep between 12 and 16 hours a day."),
    ("Why do dogs wag their tails?",
     "Dogs wag their tails to show how they feel, most often when they are happy or excited."),
    ("How do fish breathe underwater?",
     "Fish use their gills to take oxygen out of the water."),
    ("Why do some birds fly south for the winter?",
     "They migrate to warmer places where food is easier to find."),
    ("What do bees make?",
     "Bees make honey and wax, and they help plants grow by carrying pollen."),
    ("Why do cats purr?",
     "Cats often purr when they are content, and sometimes to calm themselves."),
    ("What is the largest animal on Earth?",
     "The blue whale is the largest animal on Earth."),
    ("Why do owls hunt at night?",
     "Owls have excellent night vision and hearing, so they can catch their prey in the dark."),
    ("How do penguins stay warm?",
     "Penguins have a thick layer of fat and tightly packed feathers, and they huddle together."),
    ("What do pandas eat?",
     "Pandas eat mostly bamboo, and they need a lot of it every day."),
    ("How fast can a cheetah run?",
     "A cheetah can sprint at about 100 kilometres per hour over short distances."),
    ("Why do frogs croak?",
     "Male frogs croak to attract a mate and to warn other males away."),
    ("How do snakes smell things?",
     "Snakes flick their tongues to collect scents from the air."),
    ("How many hearts does an octopus have?",
     "An octopus has three hearts."),
    ("Why do camels have humps?",
     "A camel's hump stores fat, which helps it survive long trips with little food."),
]

GENERAL = [
    ("How often should I water a cactus?",
     "Water a cactus about once every two to three weeks, and even less in winter."),
    ("How can I make coffee without a coffee machine?",
     "Pour hot water over ground coffee in a jug, wait four minutes, then strain it through a fine sieve."),
    ("What knot should I use to tie up a boat?",
     "A bowline makes a strong loop that does not slip and is easy to untie later."),
    ("What is the best way to clean a window?",
     "Wash it with warm soapy water, then wipe it dry with a clean cloth in straight lines."),
    ("How do I start a vegetable garden?",
     "Pick a sunny spot, start with easy plants like lettuce, beans and herbs, and water them regularly."),
    ("How can I keep mosquitoes away?",
     "Remove standing water near your home, use a fan, and wear long sleeves in the evening."),
    ("How do I find north without a compass?",
     "At night in the northern half of the world, look for the North Star. It always sits almost exactly north."),
    ("How do I write a short story?",
     "Start with a character who wants something, put a problem in the way, and show how it ends."),
    ("How can I read more books?",
     "Carry a book with you and read ten pages before bed each night."),
    ("What is a healthy breakfast?",
     "Try porridge with fruit, eggs on wholemeal toast, or yoghurt with nuts."),
    ("How do I make my bike tyres last longer?",
     "Keep them pumped to the pressure printed on the side, and check them once a week."),
    ("How do I calm down before giving a speech?",
     "Breathe slowly, practise your opening lines aloud, and remember that the audience wants you to do well."),
    ("How do I remove a splinter?",
     "Wash the area, then pull the splinter out gently with clean tweezers in the direction it went in."),
    ("How can I keep my laptop running smoothly?",
     "Install updates, delete files you do not need, and restart it every few days."),
    ("How do I make friends in a new town?",
     "Join a club or class for something you enjoy, and say yes when people invite you out."),
    ("How do I keep bread fresh for longer?",
     "Store it in a bread bin or a paper bag, and freeze any slices you will not eat within two days."),
    ("How do I learn to whistle?",
     "Wet your lips, shape them into a small circle, and blow gently while moving your tongue until you hear a note."),
    ("What should I do if I get lost on a hike?",
     "Stop, stay calm and stay where you are. Call for help if you have signal, and keep warm."),
    ("How can I be kinder to myself?",
     "Talk to yourself the way you would talk to a good friend, and rest when you need to."),
    ("How do I make a paper boat?",
     "Fold a sheet of paper into a hat shape, open it into a square, then pull the sides apart to form the boat."),
]

PACKING = [
    ("the beach", "Pack sunscreen, a hat, sunglasses, a swimsuit and a bottle of water."),
    ("the mountains", "Pack warm layers, a rain jacket, sturdy boots and a map."),
    ("a rainy city", "Pack a waterproof jacket, a small umbrella and shoes that dry quickly."),
    ("the desert", "Pack loose light clothes, a wide hat, sunscreen and more water than you think you need."),
    ("a snowy town", "Pack a warm coat, gloves, a hat and boots with a good grip."),
    ("a tropical island", "Pack light clothes, insect repellent, sunscreen and sandals."),
    ("a camping weekend in the forest", "Pack a tent, a warm sleeping bag, a torch and a first aid kit."),
    ("a business meeting in another city", "Pack a smart outfit, your laptop charger and printed copies of your notes."),
]

LEGS = [("spider", 8), ("ant", 6), ("dog", 4), ("chicken", 2), ("horse", 4), ("beetle", 6),
        ("crab", 10), ("cat", 4), ("duck", 2), ("butterfly", 6), ("cow", 4)]

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

MONTHS = [("January", 31), ("February", None), ("March", 31), ("April", 30), ("May", 31),
          ("June", 30), ("July", 31), ("August", 31), ("September", 30), ("October", 31),
          ("November", 30), ("December", 31)]

COLOURS = [("blue", "yellow", "green"), ("red", "yellow", "orange"), ("red", "blue", "purple"),
           ("red", "white", "pink"), ("black", "white", "grey"), ("blue", "white", "light blue")]

OPPOSITES = [("hot", "cold"), ("big", "small"), ("fast", "slow"), ("up", "down"), ("happy", "sad"),
             ("light", "dark"), ("open", "closed"), ("early", "late"), ("full", "empty"),
             ("loud", "quiet"), ("young", "old"), ("wet", "dry"), ("hard", "soft"), ("high", "low"),
             ("first", "last"), ("strong", "weak"), ("thick", "thin"), ("inside", "outside"),
             ("win", "lose"), ("push", "pull")]

PLANETS = [
    ("Mercury", "Mercury is the closest planet to the Sun, and a year there lasts only 88 Earth days."),
    ("Venus", "Venus is the hottest planet, because its thick clouds trap the heat."),
    ("Earth", "Earth is the only planet known to have life, and most of its surface is covered by water."),
    ("Mars", "Mars looks red because its dust is full of rusty iron."),
    ("Jupiter", "Jupiter is so big that all the other planets could fit inside it."),
    ("Saturn", "Saturn has bright rings made of ice and rock."),
    ("Uranus", "Uranus spins on its side, so it seems to roll around the Sun."),
    ("Neptune", "Neptune is the farthest planet from the Sun and has very strong winds."),
]

UNITS = [("minutes", "hour", "hours", 60), ("seconds", "minute", "minutes", 60),
         ("centimetres", "metre", "metres", 100), ("metres", "kilometre", "kilometres", 1000),
         ("grams", "kilogram", "kilograms", 1000), ("days", "week", "weeks", 7),
         ("months", "year", "years", 12), ("millilitres", "litre", "litres", 1000)]

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                "ten", "eleven", "twelve"]


def build_bank(rng: random.Random) -> list[tuple[str, str]]:
    """Return a list of (question, plain answer) pairs with unique questions."""
    bank = COOKING + SCIENCE + TRAVEL + ADVICE + ANIMALS + GENERAL + _table_questions() + _number_questions(rng)
    questions = [q for q, _ in bank]
    assert len(questions) == len(set(questions)), "duplicate questions in the bank"
    return bank


def _table_questions() -> list[tuple[str, str]]:
    """Questions made from the fact tables: packing, legs, days, months, colours, opposites, planets."""
    bank = [(f"What should I pack for a trip to {place}?", answer) for place, answer in PACKING]
    bank += [(f"How many legs does a {animal} have?", f"A {animal} has {NUMBER_WORDS[n] if n <= 12 else n} legs.")
             for animal, n in LEGS]
    bank += [(f"What day comes after {day}?", f"The day after {day} is {DAYS[(i + 1) % 7]}.")
             for i, day in enumerate(DAYS)]
    bank += [(f"How many days are there in {month}?",
              "February has 28 days, or 29 days in a leap year." if n is None else f"{month} has {n} days.")
             for month, n in MONTHS]
    bank += [(f"What colour do I get if I mix {a} and {b} paint?", f"Mixing {a} and {b} paint gives you {c}.")
             for a, b, c in COLOURS]
    bank += [(f"What is the opposite of {a}?", f"The opposite of {a} is {b}.") for a, b in OPPOSITES]
    bank += [(f"Tell me a fun fact about {planet}.", fact) for planet, fact in PLANETS]
    return bank


def _number_questions(rng: random.Random) -> list[tuple[str, str]]:
    """Arithmetic and unit conversions: sampled without repeats."""
    times = sorted({(a, b) for a in range(2, 13) for b in range(2, 13) if a <= b})
    bank = [(f"What is {a} times {b}?", f"{a} times {b} is {a * b}.") for a, b in rng.sample(times, 35)]
    plus = sorted({(a, b) for a in range(11, 60) for b in range(11, 60) if a < b})
    bank += [(f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.") for a, b in rng.sample(plus, 20)]
    bank += [(f"What is half of {n}?", f"Half of {n} is {n // 2}.") for n in rng.sample(range(10, 101, 2), 15)]
    conversions = [(u, n) for u in UNITS for n in range(2, 10)]
    bank += [(f"How many {small} are in {n} {big}?",
              f"There are {n * factor:,} {small} in {n} {big}, because each {one} has {factor:,}.")
             for (small, one, big, factor), n in rng.sample(conversions, 40)]
    return bank


# =============================================================================
# 1. pirate_persona.jsonl
# =============================================================================

PIRATE_OPENERS = ["Arr!", "Ahoy, matey!"]
PIRATE_SAYINGS = [
    "Mark me words, me hearties, and ye'll sail smooth seas.",
    "Keep that in yer sea chest, me hearties, and ye'll never run aground.",
    "That be as true as the North Star, me hearties, so ye can trust it.",
    "Steer by that, me hearties, and ye'll find safe harbour.",
    "Hoist that like a sail, me hearties, and ye'll catch the wind.",
    "Ye can drop anchor on that, me hearties.",
    "Chart it well, me hearties, fer ye'll need it on the high seas.",
    "Stow that below deck, me hearties, and ye'll weather any storm.",
]
PIRATE_SIGNOFF = "Yo-ho-ho!"

_PIRATE_WORDS = [
    (r"\byou\b", "ye"), (r"\bYou\b", "Ye"),
    (r"\byour\b", "yer"), (r"\bYour\b", "Yer"),
    (r"\bis\b", "be"), (r"\bare\b", "be"),
    (r"\bmy\b", "me"), (r"\bYes\b", "Aye"),
    (r"\bfor\b", "fer"),
]


def piratify(text: str) -> str:
    for pattern, repl in _PIRATE_WORDS:
        text = re.sub(pattern, repl, text)
    return text


def make_pirate(bank: list[tuple[str, str]]) -> list[dict]:
    rng = random.Random(SEED + 1)
    items = list(bank)
    rng.shuffle(items)
    rows = []
    for question, answer in items[:300]:
        output = f"{rng.choice(PIRATE_OPENERS)} {piratify(answer)} {rng.choice(PIRATE_SAYINGS)} {PIRATE_SIGNOFF}"
        assert output.startswith(("Arr!", "Ahoy, matey!")) and output.endswith(PIRATE_SIGNOFF)
        assert "me hearties" in output and re.search(r"\bye\b", output, re.I)
        assert words(output) < 60, output
        rows.append({"input": question, "output": output})
    assert len(rows) == 300
    return rows


# =============================================================================
# 2. chat_support.jsonl
# =============================================================================

CHAT_SYSTEMS = [
    "You are the ModelForge help desk assistant. Answer questions about the ModelForge app politely, clearly and briefly.",
    "You are a friendly support assistant for ModelForge, an app for fine-tuning small language models without code. Be polite and concise.",
    "You help ModelForge users. Give short, polite, step-by-step answers.",
]

# topic: (first questions, first answer, [(follow-up question, answer), ...])
CHAT_TOPICS = [
    (["How do I upload my dataset?",
      "Where can I add my own training data?",
      "How do I bring a JSONL file into ModelForge?"],
     "Open the Data tab, click Upload and choose a JSONL, CSV or Parquet file. ModelForge checks every row and shows a preview, so you can fix problems before training.",
     [("Which columns does it need?",
       "That depends on the task. Text generation needs input and output columns, and chat needs a messages column. The preview tells you if a column is missing."),
      ("Can I try ModelForge without my own data?",
       "Yes. Pick one of the built-in sample datasets on the Data tab, such as the pirate persona set, and you can start a run straight away."),
      ("Can I use a dataset from the Hugging Face Hub instead?",
       "Yes. Paste the dataset name into the Hub field on the Data tab and ModelForge downloads it for you.")]),
    (["How do I start a training run?",
      "What are the steps to begin fine-tuning?",
      "I have my data ready. How do I start training?"],
     "Go to the Train tab, choose a base model and your dataset, then click Start training. The run appears on the Runs tab with a live loss curve.",
     [("Which model should I pick first?",
       "A small model such as SmolLM2-135M is a good first choice. It trains in minutes, even on a laptop CPU."),
      ("Do I need a GPU?",
       "No. Small models train fine on a CPU. A GPU simply makes larger models much faster."),
      ("How long will it take?",
       "That depends on the model, the dataset and your hardware. Once training begins, the Runs tab shows an estimate of the time left.")]),
    (["How do I stop a run?",
      "My training is taking too long. Can I stop it?",
      "Is there a way to cancel a run that is in progress?"],
     "Yes. Open the Runs tab, select the run and click Stop. ModelForge saves the latest checkpoint before it stops.",
     [("Can I resume it later?",
       "Yes. Select the stopped run and click Resume, and training continues from the last saved checkpoint."),
      ("Will I lose my progress?",
       "No. The last checkpoint is kept, so you can still evaluate or export it."),
      ("Can I delete a run I no longer need?",
       "Yes. Select the run on the Runs tab and click Delete. You will be asked to confirm first.")]),
    (["How do I read the loss curve?",
      "What does the loss chart on the Runs tab mean?",
      "Is my loss curve supposed to go down?"],
     "The loss measures how far the model's predictions are from your data, so lower is better. A curve that falls quickly and then flattens out is a healthy run.",
     [("What if the validation loss goes up while the training loss goes down?",
       "That usually means the model is overfitting. Try fewer epochs, a lower learning rate or more data."),
      ("My loss is not going down at all. What should I do?",
       "First check that your dataset columns are mapped correctly. If they are, try a slightly higher learning rate."),
      ("Why is the line so spiky?",
       "Small spikes are normal because every batch is different. Turn on smoothing to see the overall trend.")]),
    (["How do I push my model to the Hugging Face Hub?",
      "Can I share my fine-tuned model on the Hub?",
      "How do I upload my trained model to Hugging Face?"],
     "Open the Export tab, choose the run, enter a repository name and click Push to Hub. You need to be signed in with a Hugging Face token that has write access.",
     [("Where do I put my token?",
       "Open Settings and paste it into the Hugging Face token field. The token stays on your machine."),
      ("Can I make the repository private?",
       "Yes. Tick the Private box before you click Push to Hub."),
      ("Does it upload the whole model or just the adapter?",
       "You can choose. Upload only the LoRA adapter for a small download, or merge it into the base model for a standalone model.")]),
    (["How do I check whether my model got better?",
      "How can I evaluate my fine-tuned model?",
      "Is there a way to measure how good my model is?"],
     "Use the Evaluate tab. Pick a finished run and a test split, and ModelForge reports metrics such as ROUGE or exact match next to the base model's scores.",
     [("What is a good ROUGE score?",
       "It depends on the task, so compare against the base model. A clear rise after fine-tuning is what you want to see."),
      ("Can I try the model myself?",
       "Yes. The Playground tab lets you send the same prompt to the base model and your fine-tuned model side by side."),
      ("What does perplexity mean?",
       "Perplexity is the exponential of the loss. Lower perplexity means the model finds your test data less surprising.")]),
    (["What is LoRA?",
      "Why does ModelForge use LoRA by default?",
      "Should I use LoRA or full fine-tuning?"],
     "LoRA trains a small set of extra weights instead of the whole model, so it needs far less memory and time. That is why it is the default in ModelForge.",
     [("What rank should I use?",
       "A rank of 8 or 16 works well for most tasks. Raise it only if the model does not learn enough."),
      ("Can I train the full model instead?",
       "Yes. Choose Full fine-tuning on the Train tab, but expect it to need much more memory."),
      ("Which layers does LoRA change?",
       "By default it adds adapters to the attention and feed-forward layers. You can change this under Advanced settings.")]),
    (["My run crashed with an out-of-memory error. What can I do?",
      "Training stopped and says it ran out of memory. How do I fix it?",
      "Why do I get a CUDA out of memory error?"],
     "Lower the batch size, shorten the maximum sequence length, or turn on 4-bit loading if you have a GPU. Then start the run again.",
     [("Will a smaller batch size hurt the results?",
       "Not much. Raise the gradient accumulation steps to keep the effective batch size the same."),
      ("What is 4-bit loading?",
       "It stores the base model in 4-bit precision, which cuts memory use a lot with only a small loss in quality. It needs a GPU."),
      ("How do I know how much memory a model needs?",
       "The Train tab shows a memory estimate for the model and settings you pick, before you start.")]),
    (["ModelForge says my dataset has errors. How do I fix them?",
      "Why was my dataset rejected?",
      "The upload shows a list of problems. What should I do?"],
     "The Data tab lists each problem with the file, the line number and what is wrong. Fix those lines in your file and upload it again.",
     [("What is the most common mistake?",
       "A missing or misspelled column name, such as Output instead of output. Column names must match exactly."),
      ("Can I skip the bad rows?",
       "Yes. Tick Skip invalid rows and ModelForge trains on the valid rows only, and tells you how many it left out."),
      ("My file has a strange encoding. Is that a problem?",
       "It can be. Save the file as UTF-8 and upload it again.")]),
    (["Can I run my model with llama.cpp?",
      "How do I export my model to GGUF?",
      "I want to use my model offline on my laptop. How do I export it?"],
     "Yes. On the Export tab choose GGUF as the format, pick a quantization such as Q4_K_M and click Export.",
     [("Which quantization should I pick?",
       "Q4_K_M is a good balance of size and quality. Choose Q8_0 if you want higher quality and have room for a larger file."),
      ("Where does the exported file go?",
       "It is saved in the exports folder of your run, and the Export tab shows a download link."),
      ("Can I export without merging the adapter?",
       "GGUF export needs a merged model, so ModelForge merges the adapter into the base model for you first.")]),
    (["What learning rate should I use?",
      "Is the default learning rate okay?",
      "How do I choose a learning rate?"],
     "The default of 2e-4 works well for LoRA on small models. If the loss jumps around, lower it. If it barely moves, raise it a little.",
     [("What about full fine-tuning?",
       "Full fine-tuning usually needs a much smaller learning rate, such as 2e-5."),
      ("Where do I change it?",
       "On the Train tab, open Advanced settings and edit the Learning rate field."),
      ("What is warmup?",
       "Warmup raises the learning rate slowly over the first steps, which makes the start of training more stable.")]),
    (["How should I format a chat dataset?",
      "What does a chat training file look like?",
      "How do I prepare multi-turn conversations for training?"],
     "Give each row a messages list. Every message has a role, which is system, user or assistant, and a content string. The last message should be from the assistant.",
     [("Is the system message required?",
       "No, it is optional. If you add one, it should be the first message."),
      ("Are only the assistant replies trained on?",
       "Yes. By default ModelForge computes the loss on the assistant turns only."),
      ("Can I see an example?",
       "Yes. Load the built-in chat support sample on the Data tab and open the preview.")]),
]

CHAT_GREETINGS = ["", "", "Hi! ", "Hello! ", "Hi there. ", "Good morning! ", "Quick question. "]
CHAT_ACKS = ["", "", "Happy to help! ", "Of course. ", "Sure! ", "Good question. "]
CHAT_THANKS = ["Thanks, that helps!", "Great, thank you.", "Perfect, thanks a lot!", "That's clear now. Thanks!",
               "Got it, thank you!"]
CHAT_CLOSINGS = ["You're welcome! Let me know if you have any other questions about ModelForge.",
                 "Glad I could help. Happy training!",
                 "Any time! Good luck with your run.",
                 "You're welcome. Enjoy fine-tuning with ModelForge!"]


def make_chat() -> list[dict]:
    rng = random.Random(SEED + 2)
    rows: list[dict] = []
    seen: set[str] = set()
    while len(rows) < 120:
        firsts, answer, follow = CHAT_TOPICS[len(rows) % len(CHAT_TOPICS)]
        messages = [{"role": "system", "content": rng.choice(CHAT_SYSTEMS)}]
        first = rng.choice(firsts)
        messages.append({"role": "user", "content": rng.choice(CHAT_GREETINGS) + first})
        messages.append({"role": "assistant", "content": rng.choice(CHAT_ACKS) + answer})
        picks = rng.sample(follow, 2)
        messages.append({"role": "user", "content": picks[0][0]})
        messages.append({"role": "assistant", "content": picks[0][1]})
        third = rng.random()
        if third < 0.4:
            messages.append({"role": "user", "content": rng.choice(CHAT_THANKS)})
            messages.append({"role": "assistant", "content": rng.choice(CHAT_CLOSINGS)})
        elif third < 0.75:
            messages.append({"role": "user", "content": picks[1][0]})
            messages.append({"role": "assistant", "content": picks[1][1]})
        key = json.dumps(messages, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        roles = [m["role"] for m in messages]
        assert roles[0] == "system" and roles[-1] == "assistant"
        assert all(roles[i] != roles[i + 1] for i in range(1, len(roles) - 1))
        assert 2 <= roles.count("user") <= 3
        rows.append({"messages": messages})
    rng.shuffle(rows)
    return rows


# =============================================================================
# 3. news_summaries.jsonl
# =============================================================================

TOWNS = ["Brackenford", "Calloway Bay", "Dunmarrow", "Elderwick", "Fennimoor", "Glenhallow",
         "Harrowmere", "Ivystone", "Juniper Falls", "Kestrelby", "Larkspur Hill", "Mossbridge",
         "Northolme", "Oakhaven", "Pellridge", "Quarrytown", "Rookmoor", "Saltwick", "Tarnfield",
         "Umberlee", "Valecrest", "Willowmere", "Yarrowby", "Ashcombe Reach"]
FIRST_NAMES = ["Amara", "Ben", "Clara", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonah",
               "Keira", "Luis", "Maya", "Niall", "Olive", "Priya", "Quentin", "Rosa", "Sami", "Tessa",
               "Umar", "Vera", "Wes", "Yusra", "Zoe"]
SURNAMES = ["Ashgrove", "Brell", "Corvane", "Dunley", "Everett", "Fairholt", "Garrow", "Hollins",
            "Ingleby", "Jessop", "Kettering", "Lowrie", "Marchant", "Nettleton", "Orme", "Pask",
            "Quell", "Rendle", "Stroud", "Tolley", "Upton", "Varn", "Whitlock", "Yeo"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
RIVERS = ["Aske", "Brent", "Coln", "Dover", "Esk", "Fallow", "Glen", "Hurn", "Idle", "Lune", "Mere", "Orr"]

NEWS_FILLERS = [
    "The council thanked everyone who helped.",
    "Residents were invited to share their views on the town website.",
    "Photographs have been posted on the community noticeboard.",
    "The local newspaper will publish a full report in its next edition.",
    "The story was widely shared on local social media.",
    "More details are available from the town hall.",
    "Neighbouring towns are following the news closely.",
    "A spokesperson said that further updates would be shared in the coming weeks.",
    "Visitors from outside the area are welcome to find out more at the library.",
    "The mayor's office said it was pleased with how the community had responded.",
]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


def _news_festival(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    fest = rng.choice(["apple", "kite", "lantern", "cheese", "folk music", "harvest", "sea shanty", "flower"])
    n = rng.randrange(12, 250) * 100
    doc = (f"{town} welcomed {n:,} visitors to its annual {fest} festival on {day}, organisers said. "
           f"The event filled the market square with stalls, music and food from local producers. "
           f"{who}, who chairs the organising committee, said: \"We planned for a big crowd, but {n:,} people "
           f"is more than we ever expected. It shows how much the town loves the {fest} festival.\" "
           f"Volunteers spent three months preparing the festival, and food stalls sold out by the afternoon.")
    summary = rng.choice([
        f"The annual {fest} festival in {town} drew {n:,} visitors on {day}, according to organiser {who}.",
        f"{town}'s annual {fest} festival attracted {n:,} visitors on {day}, said organising committee chair {who}.",
    ])
    return doc, summary


def _news_bridge(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    river = rng.choice(RIVERS)
    cost = rng.randrange(2, 40)
    months = rng.randrange(8, 30)
    doc = (f"A new footbridge over the River {river} opened in {town} on {day}. The bridge cost "
           f"{cost} million pounds and took {months} months to build. It replaces an old crossing that was "
           f"closed after storm damage. Mayor {who} cut the ribbon at the opening. \"This bridge joins "
           f"the two halves of {town} again,\" the mayor said. \"People can walk to school and work without a "
           f"long detour.\" Cyclists will also be allowed to use the bridge.")
    summary = rng.choice([
        f"A new {cost} million pound footbridge over the River {river} opened in {town} on {day}, Mayor {who} said.",
        f"Mayor {who} opened a new footbridge over the River {river} in {town} on {day}, built for {cost} million pounds.",
    ])
    return doc, summary


def _news_race(rng):
    town, day, winner = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    n = rng.randrange(150, 4000)
    minutes = rng.randrange(31, 58)
    km = rng.choice([10, 15, 21])
    doc = (f"More than {n:,} runners took part in the {town} {km}-kilometre road race on {day}. "
           f"The race was won by {winner}, who finished in one hour and {minutes} minutes. "
           f"\"The crowds on the last hill kept me going,\" said {winner}, who trains with a local club. "
           f"The route started at the harbour and finished outside the town hall. Organisers said the race raised money "
           f"for the local hospital.")
    summary = rng.choice([
        f"{winner} won the {town} {km}-kilometre road race on {day} in one hour and {minutes} minutes, with more than {n:,} runners taking part.",
        f"More than {n:,} runners took part in the {town} {km}-kilometre road race on {day}, which was won by {winner}.",
    ])
    return doc, summary


def _news_library(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    months = rng.randrange(6, 25)
    books = rng.randrange(8, 90) * 1000
    doc = (f"{town} library reopened on {day} after a renovation that lasted {months} months. "
           f"The building now holds {books:,} books, a new children's corner and a quiet study room. "
           f"Head librarian {who} said: \"We missed our readers. The new library has more space, better light and "
           f"longer opening hours.\" The renovation also fixed the leaking roof and added a lift. "
           f"Membership remains free for everyone who lives in {town}.")
    summary = rng.choice([
        f"{town} library reopened on {day} after a {months}-month renovation and now holds {books:,} books, said head librarian {who}.",
        f"After {months} months of renovation, {town} library reopened on {day} with {books:,} books, according to head librarian {who}.",
    ])
    return doc, summary


def _news_storm(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    homes = rng.randrange(120, 9000)
    hours = rng.randrange(3, 30)
    doc = (f"A storm left {homes:,} homes in {town} without power on {day}. Strong winds brought down trees "
           f"and power lines across the area, and several roads were closed. Engineers worked through the night, and "
           f"most homes had power again within {hours} hours. {who}, who leads the council's emergency team, "
           f"said: \"Please stay away from fallen lines and report them straight away.\" No injuries were reported.")
    summary = rng.choice([
        f"A storm cut power to {homes:,} homes in {town} on {day}, and most were reconnected within {hours} hours, said {who}.",
        f"{homes:,} homes in {town} lost power in a storm on {day}; most had it back within {hours} hours, said {who}.",
    ])
    return doc, summary


def _news_school(rng):
    town, day, teacher = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    contest = rng.choice(["robotics", "science", "chess", "debating", "maths", "poetry"])
    pupils = rng.randrange(3, 13)
    schools = rng.randrange(40, 400)
    doc = (f"A team of {pupils} pupils from {town} Secondary School won the national {contest} competition on {day}. "
           f"They beat teams from {schools} other schools in the final round. Their teacher, {teacher}, said: "
           f"\"They practised every lunchtime for a year. I could not be prouder.\" The school will receive a trophy "
           f"and new equipment for its {contest} club. The pupils will be honoured at a special assembly next week.")
    summary = rng.choice([
        f"A team of {pupils} pupils from {town} Secondary School won the national {contest} competition on {day}, beating {schools} other schools.",
        f"{town} Secondary School won the national {contest} competition on {day} with a team of {pupils} pupils coached by {teacher}.",
    ])
    return doc, summary


def _news_budget(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    amount = rng.randrange(2, 60)
    target = rng.choice(["road repairs", "new parks", "school buildings", "cycle lanes", "street lighting", "flood defences"])
    yes = rng.randrange(8, 20)
    no = rng.randrange(1, yes)
    doc = (f"{town} council approved a budget of {amount} million pounds for {target} on {day}. "
           f"Councillors voted {yes} to {no} in favour after a long debate. Council leader {who} said: "
           f"\"Residents told us that {target} matter most to them, and this budget listens.\" Some councillors "
           f"argued that the money should be spread over more projects. Work is expected to begin in the spring.")
    summary = rng.choice([
        f"{town} council voted {yes} to {no} on {day} to approve {amount} million pounds for {target}, said council leader {who}.",
        f"On {day}, {town} council approved a {amount} million pound budget for {target} by {yes} votes to {no}.",
    ])
    return doc, summary


def _news_bakery(rng):
    town, day, baker = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    item = rng.choice(["sourdough loaf", "apple pie", "cinnamon bun", "pork pie", "lemon tart", "rye bread"])
    entries = rng.randrange(80, 1500)
    doc = (f"A small bakery in {town} has won a national prize for the best {item}. Baker {baker} received the award "
           f"on {day}, beating {entries:,} other entries. \"I use my grandmother's recipe and bake every morning at "
           f"four,\" said {baker}. The judges praised the flavour and the texture. Since the news spread, "
           f"the bakery has had queues outside its door, and it has started taking orders online.")
    summary = rng.choice([
        f"Baker {baker} from {town} won a national prize for the best {item} on {day}, beating {entries:,} other entries.",
        f"A {town} bakery run by {baker} was named maker of the best {item} on {day}, ahead of {entries:,} entries.",
    ])
    return doc, summary


def _news_wildlife(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    animal = rng.choice(["otters", "barn owls", "red squirrels", "hedgehogs", "kingfishers", "bats"])
    n = rng.randrange(20, 600)
    pct = rng.randrange(5, 60)
    volunteers = rng.randrange(15, 200)
    doc = (f"Volunteers counted {n} {animal} at the nature reserve near {town} during the yearly survey, which ended on {day}. "
           f"That is {pct} percent more than last year. {volunteers} volunteers took part in the count. Reserve warden {who} "
           f"said: \"The new ponds and hedges are working. The {animal} are coming back.\" The warden asked visitors to keep "
           f"dogs on leads during the breeding season.")
    summary = rng.choice([
        f"Volunteers counted {n} {animal} at the nature reserve near {town}, up {pct} percent on last year, said warden {who}.",
        f"The yearly survey near {town}, which ended on {day}, found {n} {animal}, {pct} percent more than last year.",
    ])
    return doc, summary


def _news_fundraiser(rng):
    town, day, who = rng.choice(TOWNS), rng.choice(WEEKDAYS), _name(rng)
    amount = rng.randrange(20, 900) * 100
    cause = rng.choice(["the children's hospital", "the lifeboat station", "the animal shelter", "the food bank",
                        "the community pool", "the mountain rescue team"])
    doc = (f"Residents of {town} raised {amount:,} pounds for {cause} at a charity fair on {day}. "
           f"The fair included a cake sale, a quiz and a sponsored swim. Organiser {who} said: \"Every "
           f"coin counts. We are amazed by how generous people have been.\" The money will be handed over at a "
           f"ceremony next month. This is the largest amount the fair has raised since it began.")
    summary = rng.choice([
        f"A charity fair in {town} raised {amount:,} pounds for {cause} on {day}, said organiser {who}.",
        f"Residents of {town} raised {amount:,} pounds for {cause} at a charity fair organised by {who} on {day}.",
    ])
    return doc, summary


NEWS_BUILDERS = [_news_festival, _news_bridge, _news_race, _news_library, _news_storm,
                 _news_school, _news_budget, _news_bakery, _news_wildlife, _news_fundraiser]


def make_news() -> list[dict]:
    rng = random.Random(SEED + 3)
    rows: list[dict] = []
    seen: set[str] = set()
    i = 0
    while len(rows) < 200:
        builder = NEWS_BUILDERS[i % len(NEWS_BUILDERS)]
        i += 1
        doc, summary = builder(rng)
        sentences = doc.split(". ")
        head, tail = ". ".join(sentences[:2]) + ".", ". ".join(sentences[2:])
        # Background sentences go after the lead, so the key facts stay first; add them
        # until the article is long enough, plus a random few more for variety.
        pool = rng.sample(NEWS_FILLERS, len(NEWS_FILLERS))
        extra: list[str] = []
        while words(doc) + sum(map(words, extra)) < 80:
            extra.append(pool.pop())
        extra += [pool.pop() for _ in range(rng.randrange(0, 3))]
        document = " ".join([head, *extra, tail])
        if document in seen:
            continue
        seen.add(document)
        assert 80 <= words(document) <= 180, (words(document), document)
        assert 15 <= words(summary) <= 30, (words(summary), summary)
        rows.append({"document": document, "summary": summary})
    rng.shuffle(rows)
    return rows


# =============================================================================
# 4. qa_facts.jsonl
# =============================================================================

LAKES = ["Varn", "Orla", "Tessel", "Myre", "Corran", "Ebb", "Halden", "Silva"]
TRADES = ["clockmaker", "blacksmith", "weaver", "fisherman", "potter", "carpenter", "miller", "glassblower"]
MONTH_NAMES = [m for m, _ in MONTHS]


def _qa_village(rng):
    town, town2 = rng.sample(TOWNS, 2)
    lake, trade = rng.choice(LAKES), rng.choice(TRADES)
    founder = _name(rng)
    year = rng.randrange(1620, 1900)
    pop = rng.randrange(3, 90) * 50
    km = rng.randrange(4, 40)
    known = rng.choice(["boat race", "winter market", "lantern parade", "fishing contest", "summer fair"])
    month = rng.choice(MONTH_NAMES)
    ctx = (f"{town} is a small village on the shore of Lake {lake}. It was founded in {year} by {founder}, "
           f"a {trade} who came to the area looking for work. Today about {pop:,} people live there. "
           f"The village is best known for its {known}, which is held every {month}. "
           f"The nearest railway station is in {town2}, {km} kilometres to the north.")
    qs = [
        (f"When was {town} founded?", [str(year), f"in {year}"]),
        (f"Who founded {town}?", [founder, f"{founder}, a {trade}"]),
        (f"Which lake is {town} on?", [f"Lake {lake}", f"the shore of Lake {lake}"]),
        (f"How many people live in {town}?", [f"about {pop:,}"]),
        (f"Where is the nearest railway station to {town}?", [town2, f"in {town2}"]),
        (f"In which month is the {known} held?", [month]),
        (f"What was the trade of the founder of {town}?", [trade]),
        (f"How far is the railway station from {town}?", [f"{km} kilometres"]),
    ]
    return ctx, qs


def _qa_invention(rng):
    inventor, improver = _name(rng), _name(rng)
    city = rng.choice(TOWNS)
    device, power = rng.choice([("river mill", "falling water"), ("wind pump", "wind"),
                                ("tide clock", "a coiled spring"), ("steam hammer", "steam"),
                                ("seed drill", "a pair of horses"), ("printing press", "a hand crank")])
    year = rng.randrange(1700, 1920)
    times = rng.randrange(2, 10)
    museum = rng.choice(["Museum of Engineering", "City Museum", "Harbour Museum", "Science Hall"])
    ctx = (f"In {year}, the engineer {inventor} built the first {device} in the town of {city}. "
           f"The machine was driven by {power} and needed only one person to run it. "
           f"Some years later {improver} improved the design, making it {times} times faster. "
           f"The original {device} is now on display at the {museum} in {city}.")
    qs = [
        (f"Who built the first {device}?", [inventor, f"the engineer {inventor}"]),
        (f"In which year was the first {device} built?", [str(year)]),
        (f"What drove the {device}?", [power]),
        (f"Who improved the design of the {device}?", [improver]),
        (f"How much faster was the improved {device}?", [f"{times} times faster", f"{times} times"]),
        (f"Where is the original {device} displayed?", [f"the {museum}", f"the {museum} in {city}"]),
    ]
    return ctx, qs


def _qa_ship(rng):
    ship = rng.choice(["Marigold", "Grey Heron", "Northern Star", "Silver Wren", "Albatross", "Lady Fenn", "Kittiwake"])
    kind = rng.choice(["cargo ship", "sailing ship", "steam ferry", "fishing schooner"])
    port, place = rng.sample(TOWNS, 2)
    captain = _name(rng)
    year = rng.randrange(1800, 1950)
    years = rng.randrange(5, 40)
    year2 = year + years
    cargo = rng.choice(["wool and timber", "coal", "salt fish", "tea and spices", "passengers and mail"])
    crew = rng.randrange(8, 60)
    ctx = (f"The {ship} was a {kind} launched from the port of {port} in {year}. For {years} years she carried "
           f"{cargo} along the coast under Captain {captain}. In {year2} she ran aground near {place} during "
           f"a storm, but all {crew} crew members were rescued by local boats.")
    qs = [
        (f"Where was the {ship} launched?", [port, f"the port of {port}"]),
        (f"When was the {ship} launched?", [str(year), f"in {year}"]),
        (f"What did the {ship} carry?", [cargo]),
        (f"Who was the captain of the {ship}?", [f"Captain {captain}", captain]),
        ("How many crew members were rescued?", [f"all {crew}", str(crew)]),
        (f"Where did the {ship} run aground?", [f"near {place}", place]),
        (f"What kind of vessel was the {ship}?", [f"a {kind}", kind]),
    ]
    return ctx, qs


def _qa_mountain(rng):
    peak = rng.choice(["Orr", "Calder", "Brannoch", "Skellin", "Tarvin", "Ulla", "Vesker"])
    valley = rng.choice(["Hollin", "Dray", "Amber", "Fell", "Linnet"])
    height = rng.randrange(1200, 4800)
    a, b = _name(rng), _name(rng)
    year = rng.randrange(1780, 1960)
    village = rng.choice(TOWNS)
    hours = rng.randrange(4, 12)
    m1 = rng.choice(["October", "November", "December"])
    m2 = rng.choice(["April", "May", "June"])
    ctx = (f"Mount {peak} rises {height:,} metres above the {valley} Valley. The first recorded climb to its "
           f"summit was made in {year} by {a} and {b}. The usual route starts at the village of {village} and "
           f"takes about {hours} hours. Snow covers the peak from {m1} to {m2}.")
    qs = [
        (f"How high is Mount {peak}?", [f"{height:,} metres"]),
        (f"Who made the first recorded climb of Mount {peak}?", [f"{a} and {b}"]),
        (f"When was Mount {peak} first climbed?", [str(year), f"in {year}"]),
        (f"Where does the usual route up Mount {peak} start?", [f"the village of {village}", village]),
        ("How long does the usual climb take?", [f"about {hours} hours", f"{hours} hours"]),
        (f"Which valley does Mount {peak} rise above?", [f"the {valley} Valley", f"{valley} Valley"]),
    ]
    return ctx, qs


def _qa_company(rng):
    company = rng.choice(["Brightloom", "Kettle & Co", "Northwind Tools", "Pebble Works", "Tallow Lane",
                          "Copperfield Bicycles", "Haywire Audio"])
    founder = _name(rng)
    town, city = rng.sample(TOWNS, 2)
    year = rng.randrange(1850, 2010)
    year2 = year + rng.randrange(5, 14)
    first, now = rng.sample(["wooden toys", "garden tools", "bicycle bells", "wool blankets", "radios",
                             "kitchen scales", "umbrellas"], 2)
    staff = rng.randrange(12, 3000)
    countries = rng.randrange(3, 60)
    ctx = (f"{company} was started in {year} by {founder} in a small workshop in {town}. The company first "
           f"made {first}, but today it is best known for its {now}. It employs {staff:,} people and sells its "
           f"products in {countries} countries. Its headquarters moved to {city} in {year2}.")
    qs = [
        (f"Who started {company}?", [founder]),
        (f"When was {company} started?", [str(year), f"in {year}"]),
        (f"What did {company} make first?", [first]),
        (f"What is {company} best known for today?", [f"its {now}", now]),
        (f"How many people does {company} employ?", [f"{staff:,} people", f"{staff:,}"]),
        (f"Where is the headquarters of {company}?", [city]),
        (f"Where was {company} started?", [f"a small workshop in {town}", town]),
    ]
    return ctx, qs


def _qa_river(rng):
    river = rng.choice(RIVERS)
    length = rng.randrange(20, 400)
    hills = rng.choice(["Grey", "Moss", "Heron", "Bell", "Rowan"])
    town, port = rng.sample(TOWNS, 2)
    fish = rng.choice(["trout", "salmon", "eels", "grayling", "pike"])
    boat = rng.choice(["rowing", "canoe", "raft", "punt"])
    season = rng.choice(["spring", "summer", "autumn"])
    ctx = (f"The River {river} is {length} kilometres long. It begins in the {hills} Hills and flows east through "
           f"{town} before reaching the sea at {port}. The clean water of the river is home to {fish}, and a "
           f"{boat} race is held on it every {season}.")
    qs = [
        (f"How long is the River {river}?", [f"{length} kilometres"]),
        (f"Where does the River {river} begin?", [f"the {hills} Hills", f"in the {hills} Hills"]),
        (f"Where does the River {river} reach the sea?", [port, f"at {port}"]),
        (f"Which town does the River {river} flow through?", [town]),
        (f"What fish live in the River {river}?", [fish]),
        (f"When is the {boat} race held on the River {river}?", [f"every {season}", season]),
    ]
    return ctx, qs


def _qa_botanist(rng):
    name = f"{rng.choice(['Amara', 'Clara', 'Elena', 'Grace', 'Ines', 'Keira', 'Maya', 'Olive', 'Priya', 'Rosa', 'Tessa', 'Vera'])} {rng.choice(SURNAMES)}"
    town, city = rng.sample(TOWNS, 2)
    year = rng.randrange(1780, 1930)
    years = rng.randrange(6, 40)
    plants = rng.choice(["mosses", "ferns", "wild orchids", "mountain flowers", "sea grasses"])
    region = rng.choice(["northern coast", "eastern marshes", "high moors", "southern islands", "river valleys"])
    species = rng.randrange(12, 300)
    book = rng.choice(["A Year Among Ferns", "Small Green Things", "The Quiet Meadow", "Notes from the Moor",
                       "Flowers of the Edge"])
    year2 = year + rng.randrange(30, 60)
    ctx = (f"{name} was a botanist born in {town} in {year}. She spent {years} years studying the {plants} of the "
           f"{region}, and she described more than {species} new species. Her best-known book, {book}, was "
           f"published in {year2}. A public garden in {city} is named after her.")
    qs = [
        (f"Where was {name} born?", [town, f"in {town}"]),
        (f"What did {name} study?", [f"the {plants} of the {region}", plants]),
        (f"How many new species did {name} describe?", [f"more than {species}", str(species)]),
        (f"What is the title of {name}'s best-known book?", [book]),
        (f"When was {book} published?", [str(year2), f"in {year2}"]),
        (f"Where is the garden named after {name}?", [f"in {city}", city]),
        (f"How long did {name} study the {plants}?", [f"{years} years"]),
    ]
    return ctx, qs


def _qa_library(rng):
    lib = rng.choice(["Whitlock", "Marchant", "Corvane", "Garrow", "Jessop", "Lowrie"])
    town = rng.choice(TOWNS)
    year = rng.randrange(1820, 1990)
    architect = _name(rng)
    books = rng.randrange(20, 500) * 1000
    windows = rng.randrange(4, 20)
    item = rng.choice(["hand-drawn map of the coast", "book of sea charts", "illustrated herbal",
                       "town charter", "ship's logbook"])
    century = rng.choice(["fifteenth", "sixteenth", "seventeenth", "eighteenth"])
    ctx = (f"The {lib} Library in {town} opened in {year}. It was designed by the architect {architect} and "
           f"holds about {books:,} books. Its reading room has {windows} tall windows facing the square. "
           f"The most valuable item in the collection is a {item} from the {century} century.")
    qs = [
        (f"When did the {lib} Library open?", [str(year), f"in {year}"]),
        (f"Who designed the {lib} Library?", [architect, f"the architect {architect}"]),
        (f"How many books does the {lib} Library hold?", [f"about {books:,}", f"about {books:,} books"]),
        ("How many windows does the reading room have?", [f"{windows} tall windows", str(windows)]),
        (f"What is the most valuable item in the {lib} Library?", [f"a {item} from the {century} century", f"a {item}"]),
        (f"In which town is the {lib} Library?", [town]),
    ]
    return ctx, qs


QA_BUILDERS = [_qa_village, _qa_invention, _qa_ship, _qa_mountain, _qa_company, _qa_river,
               _qa_botanist, _qa_library]


def _squad_answers(context: str, texts: list[str]) -> dict:
    starts = []
    for text in texts:
        start = context.find(text)
        assert start >= 0, (text, context)
        starts.append(start)
    answers = {"text": list(texts), "answer_start": starts}
    for text, start in zip(answers["text"], answers["answer_start"]):
        assert context[start:start + len(text)] == text
    return answers


def make_qa() -> list[dict]:
    rng = random.Random(SEED + 4)
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    i = 0
    while len(rows) < 200:
        builder = QA_BUILDERS[i % len(QA_BUILDERS)]
        i += 1
        context, qs = builder(rng)
        question, texts = rng.choice(qs)
        if (context, question) in seen:
            continue
        seen.add((context, question))
        # About a third of rows keep two reference answers; the rest keep the first one only.
        if len(texts) > 1 and rng.random() < 0.35:
            texts = texts[:2]
        else:
            texts = texts[:1]
        assert 40 <= words(context) <= 120, (words(context), context)
        rows.append({"context": context, "question": question, "answers": _squad_answers(context, texts)})
    rng.shuffle(rows)
    return rows


# =============================================================================
# 5. preference_polite.jsonl and 6. feedback_polite.jsonl
# =============================================================================

POLITE_OPENERS = ["Certainly!", "Of course!", "Happy to help!", "Great question!", "Sure thing!"]
POLITE_CLOSERS = ["", "", "I hope that helps!", "Let me know if you have any other questions.",
                  "Good luck!"]
RUDE_REPLIES = [
    "Figure it out yourself.",
    "Not my problem.",
    "Why would I bother answering that?",
    "Look it up. I'm not doing your homework.",
    "Ugh, obviously. Stop asking.",
    "Everyone knows that. Next question.",
    "Do I look like a search engine?",
    "I don't have time for this.",
    "That's a silly question.",
    "Whatever. Go ask someone else.",
    "No idea, and I don't care.",
    "Seriously? Work it out.",
]


def _polite(rng: random.Random, answer: str) -> str:
    closer = rng.choice(POLITE_CLOSERS)
    return " ".join(part for part in (rng.choice(POLITE_OPENERS), answer, closer) if part)


def make_preference(bank: list[tuple[str, str]]) -> list[dict]:
    rng = random.Random(SEED + 5)
    items = list(bank)
    rng.shuffle(items)
    rows = []
    for question, answer in items[:200]:
        chosen = _polite(rng, answer)
        rejected = rng.choice(RUDE_REPLIES)
        assert chosen != rejected
        rows.append({"prompt": question, "chosen": chosen, "rejected": rejected})
    return rows


def make_feedback(bank: list[tuple[str, str]]) -> list[dict]:
    rng = random.Random(SEED + 6)
    items = list(bank)
    rng.shuffle(items)
    labels = [True] * 100 + [False] * 100
    rng.shuffle(labels)
    rows = []
    for (question, answer), label in zip(items[:200], labels):
        completion = _polite(rng, answer) if label else rng.choice(RUDE_REPLIES)
        rows.append({"prompt": question, "completion": completion, "label": label})
    return rows


# =============================================================================
# 7. math_prompts.jsonl
# =============================================================================

ADD_TEMPLATES = ["What is {a} + {b}?", "What is {a} plus {b}?", "Calculate {a} + {b}.", "Add {a} and {b}.",
                 "What do you get when you add {a} and {b}?"]
SUB_TEMPLATES = ["What is {a} - {b}?", "What is {a} minus {b}?", "Calculate {a} - {b}.", "Subtract {b} from {a}.",
                 "What do you get when you take {b} away from {a}?"]
MATH_SUFFIX = " Answer with just the number."


def make_math() -> list[dict]:
    rng = random.Random(SEED + 7)
    adds = [(a, b) for a in range(1, 20) for b in range(1, 20)]
    subs = [(a, b) for a in range(1, 20) for b in range(1, 20) if a >= b]
    rows = []
    for a, b in rng.sample(adds, 100):
        rows.append({"prompt": rng.choice(ADD_TEMPLATES).format(a=a, b=b) + MATH_SUFFIX, "answer": str(a + b)})
    for a, b in rng.sample(subs, 100):
        rows.append({"prompt": rng.choice(SUB_TEMPLATES).format(a=a, b=b) + MATH_SUFFIX, "answer": str(a - b)})
    rng.shuffle(rows)
    assert len({r["prompt"] for r in rows}) == 200
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate ModelForge's built-in sample datasets.")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help=f"folder to write to (default {SAMPLES_DIR})")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    bank = build_bank(random.Random(SEED))
    write_jsonl(out, "pirate_persona.jsonl", make_pirate(bank))
    write_jsonl(out, "chat_support.jsonl", make_chat())
    write_jsonl(out, "news_summaries.jsonl", make_news())
    write_jsonl(out, "qa_facts.jsonl", make_qa())
    write_jsonl(out, "preference_polite.jsonl", make_preference(bank))
    write_jsonl(out, "feedback_polite.jsonl", make_feedback(bank))
    write_jsonl(out, "math_prompts.jsonl", make_math())


if __name__ == "__main__":
    main()

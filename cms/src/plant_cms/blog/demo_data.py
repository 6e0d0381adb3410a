"""Demo blog for the local stack: ten posts written for Plant Community.

Body blocks use the shorthand ("h", text) heading, ("p", html) paragraph, ("img", caption)
generated illustration, ("quote", text, attribution) and ("tip" | "warning" | "info", title, html)
call-out; `load_demo_content` expands them into StreamField data.
"""

from __future__ import annotations

from typing import Any

AUTHORS = [
    ("mara-lindqvist", "Mara Lindqvist", "Houseplant editor", "Mara has kept a jungle in a north-facing flat for fifteen years and writes our houseplant care guides."),
    ("tomasz-nowak", "Tomasz Nowak", "Garden editor", "Tomasz gardens on heavy clay at the edge of a city and tests every tip on his own allotment."),
    ("plant-community-team", "Plant Community team", "Editorial team", "Posts written together by the people who build Plant Community."),
]

CATEGORIES = [
    ("houseplant-care", "Houseplant care", "Watering, light, compost and repotting for plants that live indoors."),
    ("garden", "Garden", "Beds, borders, balconies and pots outdoors."),
    ("pests-and-problems", "Pests and problems", "Spotting trouble early and dealing with it gently."),
    ("plant-safety", "Plant safety", "Which plants are risky for children and pets, and what to do."),
    ("identification", "Identification", "Names, look-alikes and how identification works."),
]

SERIES = [
    ("houseplants-for-beginners", "Houseplants for beginners", "Three posts that cover what kills most houseplants: water, light and pots."),
]

POSTS: list[dict[str, Any]] = [
    {
        "slug": "watering-the-finger-test-beats-the-calendar", "date": "2026-03-02",
        "title": "Watering houseplants: the finger test beats the calendar",
        "intro": "More houseplants die from too much water than too little. Here is how to tell when a plant actually needs a drink.",
        "authors": ["mara-lindqvist"], "categories": ["houseplant-care"], "series": ("houseplants-for-beginners", 1),
        "tags": ["watering", "beginners", "root rot"], "species": ["Monstera deliciosa", "Epipremnum aureum", "Dracaena trifasciata"],
        "body": [
            ("p", "<p>Watering every Sunday feels responsible, but a plant's thirst changes with the light, the temperature, the pot and the season. A monstera in a warm, bright room in July may need water every five days; the same plant in January can go three weeks.</p>"),
            ("h", "Push a finger into the compost"),
            ("p", "<p>Push your finger in up to the second knuckle, about 5 cm. If it feels dry at the tip, most leafy tropical plants want water. Succulents and snake plants should be dry all the way down: lift the pot, and if it feels light, water.</p>"),
            ("img", "Dry at the fingertip means water; damp means wait."),
            ("h", "Water thoroughly, then let it drain"),
            ("p", "<p>When you water, water properly: until it runs out of the drainage holes. Empty the saucer or cachepot after ten minutes. Roots sitting in water cannot breathe, and that is how root rot starts.</p>"),
            ("tip", "Pots without holes", "<p>Keep the plant in a plastic nursery pot <b>inside</b> the decorative one, and lift it out to water.</p>"),
            ("quote", "The compost tells you more than the calendar ever will.", "Mara Lindqvist"),
            ("p", "<p>Plant Community's care calendar starts from the intervals in each care guide, and you can move a task whenever your finger says otherwise.</p>"),
        ],
    },
    {
        "slug": "light-for-houseplants-measured-in-windows", "date": "2026-03-16",
        "title": "Light for houseplants, measured in windows",
        "intro": "‘Bright, indirect light’ is on every care label. What it means depends on which way your window faces and how far away the plant stands.",
        "authors": ["mara-lindqvist"], "categories": ["houseplant-care"], "series": ("houseplants-for-beginners", 2),
        "tags": ["light", "beginners"], "species": ["Spathiphyllum wallisii", "Zamioculcas zamiifolia", "Ficus lyrata"],
        "body": [
            ("p", "<p>Light falls off quickly with distance from a window: a plant two metres back gets a fraction of what the sill gets, even though the room looks bright to our eyes.</p>"),
            ("h", "Which way does the window face?"),
            ("p", "<p>In the northern hemisphere, south windows get strong direct sun, east windows gentle morning sun, west windows hot afternoon sun, and north windows soft light all day. ‘Bright, indirect’ usually means within a metre of an east or north window, or further back from a south one.</p>"),
            ("img", "The same room at noon: the sill, one metre back and three metres back."),
            ("h", "Plants for the darker corners"),
            ("p", "<p>ZZ plants, snake plants and peace lilies cope with low light; they simply grow slowly. Fiddle-leaf figs and most succulents do not: they stretch, lean and drop leaves.</p>"),
            ("info", "Use your shadow", "<p>Hold your hand above the plant at midday. A crisp shadow means direct light, a soft-edged one bright indirect light, and barely any shadow low light.</p>"),
        ],
    },
    {
        "slug": "repotting-without-the-shock", "date": "2026-04-06",
        "title": "Repotting without the shock",
        "intro": "Spring is repotting season. Go up one pot size, keep the plant at the same depth, and don't drown it afterwards.",
        "authors": ["mara-lindqvist"], "categories": ["houseplant-care"], "series": ("houseplants-for-beginners", 3),
        "tags": ["repotting", "compost", "beginners"], "species": ["Monstera deliciosa", "Pilea peperomioides", "Chlorophytum comosum"],
        "body": [
            ("p", "<p>Roots circling the bottom of the pot, water running straight through, or a plant that dries out in two days: time for a bigger pot.</p>"),
            ("h", "One size up"),
            ("p", "<p>Choose a pot 2–5 cm wider than the old one. A much bigger pot holds wet compost the roots cannot reach, which invites rot.</p>"),
            ("img", "Tease out circling roots gently before setting the plant in fresh compost."),
            ("h", "Match the compost to the plant"),
            ("p", "<p>Aroids like monstera want a chunky, airy mix with bark and perlite; succulents want grit; ferns want something that holds moisture. The care guide on each species page names the mix.</p>"),
            ("warning", "Gloves for aroids", "<p>Monstera, philodendron and dieffenbachia sap irritates skin. Wear gloves and keep offcuts away from pets.</p>"),
            ("p", "<p>Water once after repotting, then wait until the top of the compost dries. New roots grow towards moisture, not into a swamp.</p>"),
        ],
    },
    {
        "slug": "houseplants-safe-with-cats-and-dogs", "date": "2026-04-20",
        "title": "Which houseplants are safe with cats and dogs?",
        "intro": "Many popular houseplants irritate a pet's mouth; a few garden plants can kill. Our species pages show the risk for people and pets side by side.",
        "authors": ["plant-community-team"], "categories": ["plant-safety"], "series": None,
        "tags": ["pets", "toxicity", "cats", "dogs"],
        "species": ["Chlorophytum comosum", "Pilea peperomioides", "Goeppertia orbifolia", "Spathiphyllum wallisii", "Dieffenbachia seguine"],
        "body": [
            ("p", "<p>Most toxic houseplants belong to the aroid family: monstera, pothos, philodendron, peace lily and dumb cane. Their cells hold needle-shaped calcium oxalate crystals. A chewing cat gets a painful mouth, drools and may vomit; serious harm is rare, but it is miserable.</p>"),
            ("h", "Safer choices"),
            ("p", "<p>Spider plants, Chinese money plants, calatheas, moth orchids, Boston ferns and Christmas cacti are non-toxic to cats and dogs. Non-toxic does not mean edible: a cat that eats a spider plant may still be sick from the fibre.</p>"),
            ("img", "Spider plant, Chinese money plant and calathea: three pet-safe favourites."),
            ("warning", "True lilies and cats", "<p>Lilies of the genera <i>Lilium</i> and <i>Hemerocallis</i> cause kidney failure in cats, even from pollen licked off fur. Peace lilies are not true lilies.</p>"),
            ("p", "<p>Tell Plant Community in your profile that you live with pets or small children, and we warn you when you add a plant to your garden that could harm them.</p>"),
            ("quote", "If you think your pet has eaten a toxic plant, call your vet and bring the plant or its label.", "Plant Community team"),
        ],
    },
    {
        "slug": "spider-mites-mealybugs-fungus-gnats", "date": "2026-05-04",
        "title": "Spider mites, mealybugs and fungus gnats: an early-warning guide",
        "intro": "Three pests cause most houseplant trouble. Catch them in the first week and a shower and some patience usually win.",
        "authors": ["mara-lindqvist"], "categories": ["pests-and-problems", "houseplant-care"], "series": None,
        "tags": ["pests", "spider mites", "mealybugs", "fungus gnats"], "species": ["Monstera deliciosa", "Ficus lyrata", "Pilea peperomioides"],
        "body": [
            ("h", "Spider mites"),
            ("p", "<p>Tiny, and fond of warm, dry air. Look for pale speckles on the leaves and fine webbing where the leaf meets the stem. Shower the plant, leaves top and bottom, and raise the humidity. Repeat weekly for a month: the eggs survive the first wash.</p>"),
            ("h", "Mealybugs"),
            ("p", "<p>White, cottony tufts in leaf joints and on roots. Dab each one with a cotton bud dipped in rubbing alcohol, then spray with insecticidal soap. Check new plants before they join the others.</p>"),
            ("img", "Mealybugs hide in leaf joints; look there first."),
            ("h", "Fungus gnats"),
            ("p", "<p>Small black flies walking on the compost. They are a sign the compost stays wet: the larvae eat fungi in damp compost. Let the top few centimetres dry between waterings and use yellow sticky traps for the adults.</p>"),
            ("tip", "Quarantine", "<p>Keep a new plant apart for two weeks. It is the cheapest pest control there is.</p>"),
        ],
    },
    {
        "slug": "pruning-lavender-so-it-does-not-go-woody", "date": "2026-08-10",
        "title": "Pruning lavender so it doesn't go woody",
        "intro": "A yearly trim after flowering keeps English lavender round and full for a decade. The one rule: never cut into bare wood.",
        "authors": ["tomasz-nowak"], "categories": ["garden"], "series": None,
        "tags": ["lavender", "pruning", "pollinators"], "species": ["Lavandula angustifolia", "Salvia rosmarinus"],
        "body": [
            ("p", "<p>Left alone, lavender grows a tuft of leaves on top of an ever-longer bare stem, then splits open. Old wood rarely resprouts, so the trick is never to let it get there.</p>"),
            ("h", "When"),
            ("p", "<p>In late August, once the bees have finished with the flowers. A light tidy in April is fine, but the main cut is the summer one.</p>"),
            ("h", "How much"),
            ("p", "<p>Cut off the flower stalks and about two centimetres of the leafy growth below them, shaping the plant into a mound. Always leave some green leaves on every stem.</p>"),
            ("img", "Cut into the green, leafy growth: never below it."),
            ("info", "Cuttings from the trimmings", "<p>Non-flowering side shoots pulled off with a heel of old wood root well in gritty compost in a cold frame.</p>"),
            ("p", "<p>Rosemary, now <i>Salvia rosmarinus</i>, follows the same rule: trim after flowering, and stay out of the old wood.</p>"),
        ],
    },
    {
        "slug": "growing-tomatoes-in-pots-on-a-balcony", "date": "2026-05-18",
        "title": "Growing tomatoes in pots on a balcony",
        "intro": "A sunny balcony, a big pot and steady watering are all it takes for a summer of tomatoes.",
        "authors": ["tomasz-nowak"], "categories": ["garden"], "series": None,
        "tags": ["tomatoes", "containers", "vegetables"], "species": ["Solanum lycopersicum"],
        "body": [
            ("p", "<p>Tomatoes need six hours of direct sun, warmth, and more water than you think. A south- or west-facing balcony is ideal.</p>"),
            ("h", "Choose the right variety"),
            ("p", "<p>Bush types (determinate) stay compact and need no side-shooting: perfect for pots and hanging baskets. Cordon types grow tall and need a cane and weekly pinching out of side shoots.</p>"),
            ("h", "The pot"),
            ("p", "<p>At least 15 litres per plant, with drainage holes. Small pots dry out twice a day in July, and uneven watering gives split fruit and blossom end rot.</p>"),
            ("img", "A 20-litre pot, a cane and a saucer: the whole kit."),
            ("tip", "Feed once the fruit sets", "<p>Start weekly high-potash tomato feed when the first tiny tomatoes appear, not before: early feeding gives leaves, not fruit.</p>"),
            ("warning", "Leaves are not food", "<p>Tomato leaves and green fruit contain solanine and tomatine. Keep curious pets and toddlers away from the plants.</p>"),
        ],
    },
    {
        "slug": "sansevieria-or-dracaena-why-plant-names-change", "date": "2026-06-01",
        "title": "Sansevieria or Dracaena? Why plant names change",
        "intro": "Your identification app says one name, the garden centre label another. Both may be right: one is the accepted name, the other a synonym.",
        "authors": ["plant-community-team"], "categories": ["identification"], "series": None,
        "tags": ["names", "taxonomy", "identification"], "species": ["Dracaena trifasciata", "Salvia rosmarinus", "Goeppertia orbifolia"],
        "body": [
            ("p", "<p>Botanists group species by shared ancestry. When DNA studies show that a genus sits inside another, the names move. In 2017 the snake plant went from <i>Sansevieria trifasciata</i> to <i>Dracaena trifasciata</i>; rosemary went from <i>Rosmarinus officinalis</i> to <i>Salvia rosmarinus</i>.</p>"),
            ("h", "Accepted names and synonyms"),
            ("p", "<p>Each species has one accepted name; the old ones become synonyms. Databases such as GBIF and Plants of the World Online track both, with the author who published each name.</p>"),
            ("img", "One plant, two names: the label and the accepted name."),
            ("h", "What Plant Community does"),
            ("p", "<p>Our species pages use the accepted name and list synonyms. Search finds a plant by either, so ‘sansevieria’ still leads you to the snake plant, and identification results that use an old name link to the right care guide.</p>"),
            ("quote", "A name is a hypothesis about relationships; it changes when the evidence does.", "Plant Community team"),
        ],
    },
    {
        "slug": "beautiful-and-poisonous-foxglove-lily-of-the-valley-box", "date": "2026-06-15",
        "title": "Foxglove, lily of the valley and box: beautiful, and poisonous",
        "intro": "Some of the best-loved garden plants are among the most toxic. You don't need to remove them, but you should know them.",
        "authors": ["tomasz-nowak", "plant-community-team"], "categories": ["plant-safety", "garden"], "series": None,
        "tags": ["toxicity", "children", "pets", "woodland"], "species": ["Digitalis purpurea", "Convallaria majalis", "Buxus sempervirens"],
        "body": [
            ("p", "<p>Foxglove and lily of the valley contain cardiac glycosides, compounds that act on the heart. Both are used in medicine and both can kill in the wrong dose. Box contains alkaloids that cause vomiting and, in large amounts, breathing problems.</p>"),
            ("h", "Practical precautions"),
            ("p", "<p>Wear gloves when handling foxgloves and box clippings, wash your hands afterwards, and don't compost clippings where animals forage. Teach children not to eat anything from the garden without asking.</p>"),
            ("img", "Foxglove spires: a bumblebee favourite, best admired with your hands in your pockets."),
            ("warning", "Wild garlic look-alike", "<p>Lily of the valley leaves look like wild garlic (<i>Allium ursinum</i>). Wild garlic smells of garlic when crushed; lily of the valley does not. If in doubt, leave it.</p>"),
            ("p", "<p>If someone may have eaten part of a toxic plant, call a poison centre or your doctor straight away, and keep a piece of the plant for identification.</p>"),
        ],
    },
    {
        "slug": "getting-a-christmas-cactus-to-flower-again", "date": "2026-09-07",
        "title": "Getting a Christmas cactus to flower again",
        "intro": "Holiday cacti set buds in response to long nights and cool temperatures. Give them both in autumn and they flower on cue.",
        "authors": ["mara-lindqvist"], "categories": ["houseplant-care"], "series": None,
        "tags": ["flowering", "cactus", "seasonal"], "species": ["Schlumbergera truncata", "Phalaenopsis amabilis"],
        "body": [
            ("p", "<p><i>Schlumbergera</i> grows on trees in Brazil's coastal mountain forests, not in deserts. It flowers when nights lengthen and cool, and a living room lit until midnight hides the signal.</p>"),
            ("h", "Six weeks of long nights"),
            ("p", "<p>From mid-September, give the plant 12–14 hours of darkness each night, in a spare room or under a box, with nights around 10–15 °C. Water a little less. Buds appear within six weeks.</p>"),
            ("img", "Buds at the tips of the segments: now leave it where it is."),
            ("tip", "Don't move it", "<p>Once buds form, changes in light or temperature make the plant drop them. Pick its flowering spot before the buds appear.</p>"),
            ("p", "<p>Moth orchids respond to a similar cue: a few weeks of nights about 5 °C cooler than days in autumn starts a new flower spike.</p>"),
        ],
    },
]
